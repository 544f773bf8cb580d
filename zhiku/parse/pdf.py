"""PDF: the text layer via pypdfium2, OCR for pages without a usable one.

``pdf_lines`` reads each page's text layer as positioned lines (pdfium's own text and line
breaks, text-object rectangles, font size and weight). ``layout`` then orders the lines (columns,
tables), drops running headers/footers and builds paragraphs; ``tables`` turns ruled grids into
tables; headings are guessed from font size and weight. Every block carries its page and bounding
box in PDF points (origin bottom-left).

Pages with no text but images, with garbage text (private-use glyphs, symbol soup) or with a
sliver of text on a page that is mostly image are rendered and OCR'd (``ocr``); fake-bold
doubled characters are repaired without OCR (``textlayer``).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from ..errors import ParseError
from ..tabletext import are_column_names, carried_header, header_rows
from ..types import Block, Locator, ParsedDocument
from .base import HeadingTracker, normalize_rows, one_line, split_table, table_text
from .layout import (
    Line,
    Paragraph,
    heading_level,
    heading_levels,
    join_wrapped,
    paragraphs,
    reading_order,
)
from .ocr import OcrOptions, OcrParagraph, OcrQueue, OcrUnavailable, Run, Tesseract
from .pdf_lines import LineReader, path_boxes
from .running import remove_running_lines
from .tables import ruled_tables
from .textlayer import text_layer_quality

if TYPE_CHECKING:
    from ..settings import Settings

OcrMode = Literal["auto", "off", "force"]

#: Below this text-layer quality a page is OCR'd (when OCR is on).
_MIN_QUALITY = 0.5
#: A page with fewer non-space characters than this is checked for being mostly image.
_FEW_CHARS = 40
#: Share of the page area covered by images above which a page with few characters is a scan.
_IMAGE_COVER = 0.5
#: Largest bitmap (pixels) a page is rendered to for OCR: A4 at 300 dpi is 8.7 million.
_MAX_OCR_PIXELS = 40_000_000


@dataclass(frozen=True)
class PdfOptions:
    """How PDFs are read: OCR mode (``auto``: pages without usable text; ``off``; ``force``: every
    page), OCR settings, and the password for encrypted files."""

    ocr: OcrMode = "auto"
    ocr_options: OcrOptions = field(default_factory=OcrOptions)
    password: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> PdfOptions:
        """Options from ``ocr``, ``ocr_languages``, ``ocr_dpi``, ``ocr_workers`` and ``pdf_password``."""
        mode = settings.ocr if settings.ocr in ("auto", "off", "force") else "auto"
        return cls(
            ocr=mode,  # type: ignore[arg-type]
            ocr_options=OcrOptions(
                languages=settings.ocr_languages, dpi=settings.ocr_dpi, workers=settings.ocr_workers
            ),
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
    #: Where OCR's pixel boxes land in PDF points: the crop box's left and top, points per pixel.
    ocr_frame: tuple[float, float, float] = (0.0, 0.0, 1.0)


def _take_ocr(page: _Page, run: Run) -> None:
    """Fill ``page`` from its finished OCR run: paragraphs (boxes in PDF points) instead of its lines,
    or the reason it failed (a time limit: the other pages are kept). ``OcrUnavailable`` (Tesseract
    cannot run at all) is raised."""
    try:
        paras = run.result()
    except OcrUnavailable:
        raise
    except ParseError as exc:
        page.failed = str(exc)
        return
    left, top, k = page.ocr_frame
    for para in paras:  # pixels (y down, from the crop box's top-left) to PDF points (y up)
        x0, y0, x1, y1 = para.bbox
        para.bbox = (round(left + x0 * k, 1), round(top - y1 * k, 1), round(left + x1 * k, 1), round(top - y0 * k, 1))
    page.ocr = paras
    page.lines = []


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
        reader = LineReader()
        pages: list[_Page] = []
        # Scanned pages are read by several Tesseract processes while the next pages are rendered.
        with OcrQueue[_Page](self._tesseract, self.options.ocr_options.worker_count()) as ocr:
            for index in range(n_pages):
                page = pdf[index]
                try:
                    pages.append(self._page(reader, page, index + 1, ocr))
                finally:
                    page.close()
            for done, run in ocr.drain():
                _take_ocr(done, run)
        text_pages = [p for p in pages if p.ocr is None]
        body, levels = heading_levels([p.lines for p in text_pages])
        sizes = [(p.width, p.height) for p in text_pages]
        cleaned = remove_running_lines([p.lines for p in text_pages], sizes, body=body)
        for p, lines in zip(text_pages, cleaned, strict=True):
            p.lines = ruled_tables(lines, p.boxes) if p.boxes else lines
        blocks = _continued_tables(_blocks(pages, body, levels))
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
        # The two keys used, read alone: ``get_metadata_dict`` reads all eight (two calls each).
        title = one_line(pdf.get_metadata_value("Title"))
        author = pdf.get_metadata_value("Author")
        metadata: dict[str, Any] = {"pages": n_pages}
        if author:
            metadata["author"] = author
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

    def _page(self, reader: LineReader, page: pdfium.PdfPage, number: int, ocr: OcrQueue[_Page]) -> _Page:
        width, height = page.get_size()
        textpage = page.get_textpage()
        try:
            reader.text, reader.broken = "", 0
            lines = reader.lines(textpage) if self.options.ocr != "force" else []
        finally:
            textpage.close()
        result = _Page(number, width, height, lines)
        if reader.broken >= 2:  # rows of cells: look for ruling lines (costs a walk over all objects)
            result.boxes = path_boxes(page)
        if self.options.ocr == "off" or not self._needs_ocr(page, reader.text, lines, width, height):
            return result
        if not self._tesseract.available():
            result.unread = not lines
            return result
        self._ocr(page, result, ocr)  # filled in when its run is collected (``_take_ocr``)
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

    def _ocr(self, page: pdfium.PdfPage, result: _Page, ocr: OcrQueue[_Page]) -> None:
        width, height = page.get_size()
        # A poster-sized (or hostile) page would render to gigapixels: cap the bitmap, lower the dpi.
        dpi = min(self.options.ocr_options.dpi, 72 * (_MAX_OCR_PIXELS / max(width * height, 1.0)) ** 0.5)
        bitmap = page.render(scale=dpi / 72, grayscale=True)
        try:
            image = bitmap.to_pil()
        finally:
            bitmap.close()
        left, _, _, top = page.get_cropbox()
        result.ocr_frame = (left, top, 72 / dpi)
        for done, run in ocr.submit(result, image, page=result.number, dpi=round(dpi)):
            _take_ocr(done, run)


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
                blocks.extend(_table_blocks(rows, locator))
                continue
            for i, para in enumerate(paragraphs(region.lines)):
                if para.rows is not None:
                    rows = normalize_rows(para.rows)
                    locator = Locator(page=page.number, heading_path=headings.path, bbox=_round(para.bbox))
                    blocks.extend(_table_blocks(rows, locator))
                elif _is_footnote(para, body, page.height):
                    footnotes.append(_block(para, page.number, headings, body, {}))
                elif i == 0 and blocks and _continues_sentence(blocks[-1], para, page.number):
                    _extend(blocks[-1], para)  # a sentence running on from the previous column
                else:
                    blocks.append(_block(para, page.number, headings, body, levels))
        blocks.extend(footnotes)  # after the page's text, so columns read on across them
    return blocks


def _table_blocks(rows: list[list[str]], locator: Locator) -> list[Block]:
    """A table block, and a paragraph per note row printed inside its frame."""
    title, rows, notes = split_table(rows)
    table = Block("table", table_text(rows, title), rows=rows, locator=locator, name=title)
    return [table, *(Block("paragraph", note, locator=replace(locator)) for note in notes)]


def _continued_tables(blocks: list[Block]) -> list[Block]:
    """Tables continued from the page before get that table's header and name.

    A statement or list that runs over pages prints its header once: the part on the next page
    starts with data ("一般风险准备 | | ", "应付股利 | 40,017.86 | …"), and its rows would be read out
    without column names and its chunks would carry none. A table that opens its page, right after a
    table that closed the page before, with as many columns and a first row of data rather than
    names, continues it: its Markdown repeats that header (as chunks of a long table do) and it takes
    the table's name. Its ``rows`` stay as printed.
    """
    for i in range(1, len(blocks)):
        prev, block = blocks[i - 1], blocks[i]
        if (
            block.kind == "table"
            and prev.kind == "table"
            and block.rows
            and prev.rows
            and block.locator.page is not None
            and prev.locator.page == block.locator.page - 1
            and len(block.rows[0]) == len(prev.rows[0])
            and not are_column_names(block.rows[0])
        ):
            head = header_rows(prev.rows)
            header = prev.rows[: head[1]] if head else carried_header(prev.text, prev.rows)
            if header:
                block.name = block.name or prev.name
                block.text = table_text([*header, *block.rows], block.name)
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
