"""PDF: the text layer via pypdfium2, OCR for pages without a usable one.

Speed matters (PDF is the bulk of most knowledge bases), so per-character work in Python is
avoided: pdfium's own text (``get_text_range``, which already has its line breaks) is split at
those breaks, and each line asks pdfium once for its text-object rectangles. Only a line whose
rectangles jump (two columns or table cells on one baseline, a hyphenated word rejoined across
lines) is split character by character. ``layout`` then orders the lines (columns, tables),
drops running headers/footers and builds paragraphs; headings are guessed from font size and
weight. Every block carries its page and bounding box in PDF points (origin bottom-left).

Pages with no text but images, with garbage text (private-use glyphs, symbol soup) or with a
sliver of text on a page that is mostly image are rendered and OCR'd (``ocr``); fake-bold
doubled characters are repaired without OCR (``textlayer``).
"""

from __future__ import annotations

import ctypes
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from ..errors import ParseError
from ..types import Block, Locator, ParsedDocument
from . import pdfium_calls as fast
from .base import HeadingTracker, normalize_rows, one_line, render_table
from .layout import (
    Line,
    Paragraph,
    gap_limit,
    heading_level,
    heading_levels,
    join_wrapped,
    merge_fragments,
    paragraphs,
    reading_order,
    remove_running_lines,
)
from .ocr import OcrOptions, OcrParagraph, OcrUnavailable, Tesseract
from .tables import ruled_tables
from .textlayer import may_be_doubled, text_layer_quality, undouble

if TYPE_CHECKING:
    from ..settings import Settings

OcrMode = Literal["auto", "off", "force"]

#: Below this text-layer quality a page is OCR'd (when OCR is on).
_MIN_QUALITY = 0.5
#: A page with fewer non-space characters than this is checked for being mostly image.
_FEW_CHARS = 40
#: Share of the page area covered by images above which a page with few characters is a scan.
_IMAGE_COVER = 0.5
#: A word for box purposes: a run without spaces or pdfium's soft-hyphen marks.
_WORD = re.compile("[^ \ufffe\x02]+")
#: Where a word starts: a non-space character after a space or a soft-hyphen mark.
_WORD_START = re.compile("(?<=[ \ufffe\x02])\\S")
#: Largest bitmap (pixels) a page is rendered to for OCR: A4 at 300 dpi is 8.7 million.
_MAX_OCR_PIXELS = 40_000_000
_BOLD_NAMES = ("bold", "black", "heavy", "semibold", "demi", "bx", "-b")


@dataclass(frozen=True)
class PdfOptions:
    """How PDFs are read: OCR mode (``auto``: pages without usable text; ``off``; ``force``: every
    page), OCR settings, and the password for encrypted files."""

    ocr: OcrMode = "auto"
    ocr_options: OcrOptions = field(default_factory=OcrOptions)
    password: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> PdfOptions:
        """Options from ``ocr``, ``ocr_languages``, ``ocr_dpi`` and ``pdf_password``."""
        mode = settings.ocr if settings.ocr in ("auto", "off", "force") else "auto"
        return cls(
            ocr=mode,  # type: ignore[arg-type]
            ocr_options=OcrOptions(languages=settings.ocr_languages, dpi=settings.ocr_dpi),
            password=settings.pdf_password or None,
        )


@dataclass
class _Page:
    number: int
    width: float
    height: float
    lines: list[Line]
    ocr: list[OcrParagraph] | None = None
    #: OCR was needed but could not run (Tesseract missing).
    unread: bool = False
    #: Why OCR failed on this page (a time limit), if it did.
    failed: str = ""
    #: Bounding boxes of the page's path objects (rules, cell boxes) when it looks like it has tables.
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)


class _Reader:
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
                        scale = (matrix.c * matrix.c + matrix.d * matrix.d) ** 0.5
                        if scale > 0:
                            size *= scale
                    length = font_info(raw, start, font, font_len, flags_ref)  # ``_bold`` inlined
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
                            round(size, 1),
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
            return merge_fragments(out)  # type: ignore[arg-type]
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
            if type(item) is not int:
                append(item)  # type: ignore[arg-type]
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
        style, fix = self._style, self._fix
        for i, box in enumerate(group_boxes):
            start = starts[i]
            text = piece[start : starts[i + 1]]
            stripped = text.strip()
            if stripped:
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
        not count) and boldness (the first and the last character both bold or italic). ``_size``
        and ``_bold`` written out: this runs for every table cell of a page."""
        first = len(text) - len(text.lstrip())
        last = len(text.rstrip()) - 1
        middle = (first + last) // 2
        while middle < last and text[middle].isspace():  # pdfium's generated spaces have no font
            middle += 1
        font_size, get_matrix, matrix, matrix_ref = fast.font_size, fast.get_matrix, self._matrix, self._matrix_ref
        # Two samples: one may land on a superscript (a footnote mark) or a run-in label.
        size = 0.0
        for index in (pos + middle, pos + last) if last != middle else (pos + middle,):
            sample = font_size(raw, index)
            if get_matrix(raw, index, matrix_ref):
                scale = (matrix.c * matrix.c + matrix.d * matrix.d) ** 0.5
                if scale > 0:
                    sample *= scale
            sample = round(sample, 1)
            if index == pos + middle or sample > size:
                size = sample
        bold = self._bold(raw, pos + first) and (last == first or self._bold(raw, pos + last))
        return size, bold

    def _bold(self, raw: Any, index: int) -> bool:
        """Bold (by font name or weight) or italic: emphasis that marks a heading of body size."""
        length = fast.font_info(raw, index, self._font, self._font_len, self._flags_ref)
        name = self._font.value if 0 < length <= len(self._font) else b""
        bold = self._fonts.get(name)
        if bold is None:
            bold = self._bold_font(raw, index, name)
        return bold or bool(self._flags.value & 64)

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


class PdfParser:
    """Reads ``.pdf`` files: text layer with layout, OCR where the text layer is missing or unusable.

    Metadata records the page count, and ``ocr_pages`` when pages were OCR'd.
    """

    def __init__(self, options: PdfOptions | None = None) -> None:
        self.options = options or PdfOptions()
        self._tesseract = Tesseract(self.options.ocr_options)

    @classmethod
    def from_settings(cls, settings: Settings) -> PdfParser:
        """A parser configured from ``Settings`` (OCR mode, languages, DPI, password)."""
        return cls(PdfOptions.from_settings(settings))

    def parse(self, path: Path) -> ParsedDocument:
        """Parse ``path``; ``ParseError`` for encrypted PDFs without the right password, corrupt files,
        and scanned PDFs when OCR cannot run."""
        pdf = _open(path, self.options.password)
        try:
            return self._read(pdf, path)
        finally:
            pdf.close()

    def _read(self, pdf: pdfium.PdfDocument, path: Path) -> ParsedDocument:
        n_pages = len(pdf)
        if n_pages == 0:
            raise ParseError("corrupt or unreadable PDF: it has no pages")
        reader = _Reader()
        pages: list[_Page] = []
        for index in range(n_pages):
            page = pdf[index]
            try:
                pages.append(self._page(reader, page, index + 1))
            finally:
                page.close()
        text_pages = [p for p in pages if p.ocr is None]
        body, levels = heading_levels([p.lines for p in text_pages])
        sizes = [(p.width, p.height) for p in text_pages]
        cleaned = remove_running_lines([p.lines for p in text_pages], sizes, body=body)
        for p, lines in zip(text_pages, cleaned, strict=True):
            p.lines = ruled_tables(lines, p.boxes) if p.boxes else lines
        blocks = _blocks(pages, body, levels)
        unread = [p.number for p in pages if p.unread]
        failed = [p for p in pages if p.failed]
        if not blocks:
            if unread:
                raise OcrUnavailable(self._tesseract.problem() or "scanned PDF: OCR is needed")
            if failed:
                raise ParseError(failed[0].failed)
            if self.options.ocr == "off" and any(p.ocr is None and not p.lines for p in pages):
                raise ParseError("no text layer: this PDF looks scanned (images only) and OCR is off (ocr = off)")
            raise ParseError(
                "no text found: no text layer, and OCR found nothing (blank pages, or a scanned PDF too faint to read)"
            )
        meta = pdf.get_metadata_dict(skip_empty=True)
        title = one_line(meta.get("Title", ""))
        metadata: dict[str, Any] = {"pages": n_pages}
        if meta.get("Author"):
            metadata["author"] = meta["Author"]
        ocr_pages = [p.number for p in pages if p.ocr is not None]
        if ocr_pages:
            metadata["ocr_pages"] = ocr_pages
        if unread:
            metadata["pages_needing_ocr"] = unread
            metadata["warning"] = f"pages {unread} need OCR: {self._tesseract.problem()}"
        if failed:
            metadata["ocr_failed_pages"] = [p.number for p in failed]
            metadata["warning"] = f"OCR failed on pages {metadata['ocr_failed_pages']}: {failed[0].failed}"
        return ParsedDocument.from_blocks(blocks, title=title or path.stem, metadata=metadata)

    def _page(self, reader: _Reader, page: pdfium.PdfPage, number: int) -> _Page:
        width, height = page.get_size()
        textpage = page.get_textpage()
        try:
            reader.text, reader.broken = "", 0
            lines = reader.lines(textpage) if self.options.ocr != "force" else []
        finally:
            textpage.close()
        result = _Page(number, width, height, lines)
        if reader.broken >= 2:  # rows of cells: look for ruling lines (costs a walk over all objects)
            result.boxes = _path_boxes(page)
        if self.options.ocr == "off" or not self._needs_ocr(page, reader.text, lines, width, height):
            return result
        if not self._tesseract.available():
            result.unread = not lines
            return result
        try:
            result.ocr = self._ocr(page, number)
        except OcrUnavailable:
            raise
        except ParseError as exc:  # one page's OCR failing (time limit) leaves the others
            result.failed = str(exc)
            return result
        result.lines = []
        return result

    def _needs_ocr(self, page: pdfium.PdfPage, text: str, lines: list[Line], width: float, height: float) -> bool:
        if self.options.ocr == "force":
            return True
        chars = sum(len(line.text) for line in lines)
        if chars and text_layer_quality(text) < _MIN_QUALITY:
            return True
        if chars >= _FEW_CHARS:
            return False
        return _image_cover(page, width * height) >= (_IMAGE_COVER if chars else 0.02)

    def _ocr(self, page: pdfium.PdfPage, number: int) -> list[OcrParagraph]:
        width, height = page.get_size()
        # A poster-sized (or hostile) page would render to gigapixels: cap the bitmap, lower the dpi.
        dpi = min(self.options.ocr_options.dpi, 72 * (_MAX_OCR_PIXELS / max(width * height, 1.0)) ** 0.5)
        bitmap = page.render(scale=dpi / 72, grayscale=True)
        try:
            image = bitmap.to_pil()
        finally:
            bitmap.close()
        paras = self._tesseract.recognize(image, page=number, dpi=round(dpi))
        # Pixels (y down, from the crop box's top-left) to PDF points (y up), like text-layer boxes.
        left, _, _, top = page.get_cropbox()
        k = 72 / dpi
        for para in paras:
            x0, y0, x1, y1 = para.bbox
            para.bbox = (
                round(left + x0 * k, 1),
                round(top - y1 * k, 1),
                round(left + x1 * k, 1),
                round(top - y0 * k, 1),
            )
        return paras


def _open(path: Path, password: str | None) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(str(path), password=password)
    except pdfium.PdfiumError as exc:
        if getattr(exc, "err_code", None) == pdfium_c.FPDF_ERR_PASSWORD:
            if password:
                raise ParseError("encrypted PDF: the password in pdf_password is wrong") from exc
            raise ParseError(
                "encrypted PDF: a password is required; set pdf_password (ZHIKU_PDF_PASSWORD or zhiku.toml)"
            ) from exc
        raise ParseError(f"corrupt or unreadable PDF: {exc}") from exc


def _path_boxes(page: pdfium.PdfPage) -> list[tuple[float, float, float, float]]:
    """Bounds of the page's path objects (top level; at most 5,000 objects looked at)."""
    x0, y0, x1, y1 = (ctypes.c_float(), ctypes.c_float(), ctypes.c_float(), ctypes.c_float())
    r0, r1, r2, r3 = (ctypes.byref(x0), ctypes.byref(y0), ctypes.byref(x1), ctypes.byref(y1))
    get_object, get_type, bounds = fast.page_object, fast.object_type, fast.object_bounds
    path = pdfium_c.FPDF_PAGEOBJ_PATH
    raw = fast.handle(page.raw)
    out: list[tuple[float, float, float, float]] = []
    append = out.append
    for i in range(min(pdfium_c.FPDFPage_CountObjects(page.raw), 5000)):
        obj = get_object(raw, i)
        if get_type(obj) == path and bounds(obj, r0, r1, r2, r3):
            append((x0.value, y0.value, x1.value, y1.value))
    return out


def _image_cover(page: pdfium.PdfPage, area: float) -> float:
    """Share of the page area covered by image objects (inside form XObjects too, two levels deep)."""
    if area <= 0:
        return 0.0
    box = (ctypes.c_float(), ctypes.c_float(), ctypes.c_float(), ctypes.c_float())
    objects = [
        pdfium_c.FPDFPage_GetObject(page.raw, i) for i in range(min(pdfium_c.FPDFPage_CountObjects(page.raw), 5000))
    ]
    return min(_covered(objects, box, 0) / area, 1.0)


def _covered(objects: list[Any], box: tuple[ctypes.c_float, ...], depth: int) -> float:
    x0, y0, x1, y1 = box
    covered = 0.0
    for obj in objects:
        kind = pdfium_c.FPDFPageObj_GetType(obj)
        if kind == pdfium_c.FPDF_PAGEOBJ_IMAGE and pdfium_c.FPDFPageObj_GetBounds(obj, x0, y0, x1, y1):
            covered += max(0.0, x1.value - x0.value) * max(0.0, y1.value - y0.value)
        elif kind == pdfium_c.FPDF_PAGEOBJ_FORM and depth < 2:
            n = min(pdfium_c.FPDFFormObj_CountObjects(obj), 5000)
            covered += _covered([pdfium_c.FPDFFormObj_GetObject(obj, j) for j in range(n)], box, depth + 1)
    return covered


def _blocks(pages: list[_Page], body: float, levels: dict[float, int]) -> list[Block]:
    headings = HeadingTracker()
    blocks: list[Block] = []
    for page in pages:
        if page.ocr is not None:
            blocks.extend(_ocr_blocks(page, headings))
            continue
        footnotes: list[Block] = []
        for region in reading_order(page.lines):
            rows = normalize_rows(region.rows) if region.rows else []
            # A grid is kept as a table when it has two rows and most rows have several cells.
            if len(rows) >= 2 and sum(sum(1 for c in r if c) > 1 for r in rows) >= 0.6 * len(rows):
                locator = Locator(page=page.number, heading_path=headings.path, bbox=_bbox(region.lines))
                blocks.append(Block("table", render_table(rows), rows=rows, locator=locator))
                continue
            for i, para in enumerate(paragraphs(region.lines)):
                if para.rows is not None:
                    rows = normalize_rows(para.rows)
                    locator = Locator(page=page.number, heading_path=headings.path, bbox=_round(para.bbox))
                    blocks.append(Block("table", render_table(rows), rows=rows, locator=locator))
                elif _is_footnote(para, body, page.height):
                    footnotes.append(_block(para, page.number, headings, body, {}))
                elif i == 0 and blocks and _continues_sentence(blocks[-1], para, page.number):
                    _extend(blocks[-1], para)  # a sentence running on from the previous column
                else:
                    blocks.append(_block(para, page.number, headings, body, levels))
        blocks.extend(footnotes)  # after the page's text, so columns read on across them
    return blocks


def _is_footnote(para: Paragraph, body: float, height: float) -> bool:
    """Small text in the lower part of the page starting with its note number (``1Preliminary``)."""
    return (
        0 < para.size < 0.95 * body
        and para.bbox[3] < 0.6 * height
        and para.text[:1].isdigit()
        and not para.text.replace(" ", "").replace(".", "").isdigit()
    )


def _continues_sentence(prev: Block, para: Paragraph, page: int) -> bool:
    """Does ``para`` (first of a column) finish the sentence ``prev`` (last of the column before,
    same page) left open? English only: a lowercase start after an open end."""
    return (
        prev.kind == "paragraph"
        and prev.locator.page == page
        and bool(prev.text)
        and (prev.text[-1].isalnum() or prev.text[-1] in ",-–")
        and para.text[:1].isascii()
        and para.text[:1].islower()
    )


def _extend(prev: Block, para: Paragraph) -> None:
    prev.text = join_wrapped(prev.text, para.text)
    if prev.locator.bbox is not None:
        x0, y0, x1, y1 = prev.locator.bbox
        a0, b0, a1, b1 = _round(para.bbox)
        prev.locator.bbox = (min(x0, a0), min(y0, b0), max(x1, a1), max(y1, b1))


def _round(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    return (round(box[0], 1), round(box[1], 1), round(box[2], 1), round(box[3], 1))


def _bbox(lines: list[Line]) -> tuple[float, float, float, float]:
    return (
        round(min(ln.x0 for ln in lines), 1),
        round(min(ln.y0 for ln in lines), 1),
        round(max(ln.x1 for ln in lines), 1),
        round(max(ln.y1 for ln in lines), 1),
    )


def _block(para: Paragraph, page: int, headings: HeadingTracker, body: float, levels: dict[float, int]) -> Block:
    bbox = _round(para.bbox)
    level = heading_level(para, body, levels)
    if level:
        path = headings.push(level, para.text)
        return Block("heading", para.text, level=level, locator=Locator(page=page, heading_path=path, bbox=bbox))
    return Block("paragraph", para.text, locator=Locator(page=page, heading_path=headings.path, bbox=bbox))


def _ocr_blocks(page: _Page, headings: HeadingTracker) -> list[Block]:
    """OCR paragraphs as blocks; pixel boxes converted to PDF points (y up) like text-layer blocks."""
    assert page.ocr is not None
    blocks: list[Block] = []
    for para in page.ocr:
        blocks.append(
            Block("paragraph", para.text, locator=Locator(page=page.number, heading_path=headings.path, bbox=para.bbox))
        )
    return blocks
