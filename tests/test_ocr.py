"""OCR: scanned and garbage-text PDF pages, images (PNG, JPEG, multi-page TIFF), text-layer quality,
and clear errors when Tesseract is missing. Scans are rendered here with Pillow and a real CJK font,
then read by the real Tesseract CLI."""

from __future__ import annotations

import difflib
import os
import threading
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfReader, PdfWriter

from tests.pdf_writer import Page, write_pdf
from zhiku.errors import ParseError
from zhiku.parse import ParserRegistry
from zhiku.parse.image import ImageParser
from zhiku.parse.ocr import OcrOptions, OcrParagraph, OcrUnavailable, Tesseract, parse_tsv
from zhiku.parse.pdf import PdfOptions, PdfParser
from zhiku.parse.textlayer import text_layer_quality, undouble

needs_tesseract = pytest.mark.skipif(
    not Tesseract().available(), reason="tesseract with chi_sim+eng not installed (apt-get install tesseract-ocr ...)"
)

ZH = "员工应在费用发生后三十天内提交报销单"
EN = "New hires get ten days of paid annual leave"
FONTS = sorted(Path("/usr/share/fonts").glob("**/NotoSansCJK-Regular.ttc")) or sorted(
    Path("/usr/share/fonts").glob("**/*CJK*.tt[cf]")
)


def scan(lines: list[str], size: tuple[int, int] = (1400, 500), font_px: int = 44) -> Image.Image:
    """A white 'scanned' page with black text lines (CJK font when installed)."""
    if not FONTS:
        pytest.skip("no CJK font installed (apt-get install fonts-noto-cjk)")
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(FONTS[0]), font_px)
    for i, line in enumerate(lines):
        draw.text((60, 60 + i * int(font_px * 1.8)), line, font=font, fill=0)
    return image


def similar(expected: str, text: str) -> float:
    """How much of ``expected`` OCR found (spaces ignored): 1.0 is a perfect read."""
    a, b = expected.replace(" ", ""), text.replace(" ", "")
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks()) / len(a)


def scanned_pdf(path: Path, lines: list[str]) -> Path:
    scan(lines).convert("RGB").save(path, "PDF", resolution=200)
    return path


# -- text-layer quality and fake bold ---------------------------------------------------------------


def test_text_layer_quality() -> None:
    assert text_layer_quality("The quick brown fox, jumps over the lazy dog.") == 1.0
    assert text_layer_quality("公司董事会、监事会及董事保证季度报告内容的真实。") == 1.0
    assert text_layer_quality("") == 0.0
    assert text_layer_quality("\ue000\ue001\ue002\ue003 ab") < 0.5  # private-use glyphs
    assert text_layer_quality("\x01\x04\x05\x06\x07\x08\x0e\x0f\x10") < 0.2  # control characters
    assert text_layer_quality('!"#$%&\'()*+,-./ !"#$%&') < 0.2  # symbol soup
    assert text_layer_quality("Ef\ufffefects of soft hyphens are fine") == 1.0


def test_undouble_only_fake_bold() -> None:
    assert undouble("TThhee  qquuaarrtteerrllyy  rreeppoorrtt") == "The quarterly report"
    assert undouble("第第一一章章  总总则则") == "第一章 总则"
    for text in ("all good books need cool coffee", "Mississippi", "aa bb", "See the committee"):
        assert undouble(text) == text


def test_parse_tsv_groups_words_into_paragraphs() -> None:
    tsv = (
        "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"
        "5\t1\t1\t1\t1\t1\t10\t20\t50\t12\t95.0\tAnnual\n"
        "5\t1\t1\t1\t1\t2\t65\t20\t40\t12\t93.0\tleave\n"
        "5\t1\t1\t1\t2\t1\t10\t40\t30\t12\t90.0\t年假\n"
        "5\t1\t1\t1\t2\t2\t42\t40\t30\t12\t90.0\t十天\n"
        "5\t1\t2\t1\t1\t1\t10\t90\t80\t12\t80.0\tSecond\n"
        "5\t2\t1\t1\t1\t1\t5\t5\t20\t10\t70.0\tnext-frame\n"
    )
    paras = parse_tsv(tsv)
    assert [p.text for p in paras] == ["Annual leave 年假十天", "Second", "next-frame"]
    assert paras[0].bbox == (10.0, 20.0, 105.0, 52.0) and paras[0].lines == 2
    assert [p.page for p in paras] == [1, 1, 2]


# -- Tesseract missing -------------------------------------------------------------------------------


def test_missing_tesseract_is_a_clear_error_and_text_pdfs_still_parse(tmp_path: Path) -> None:
    options = PdfOptions(ocr_options=OcrOptions(binary="zhiku-no-such-tesseract"))
    blank = PdfWriter()
    blank.add_blank_page(width=300, height=300)
    image_pdf = tmp_path / "scan.pdf"
    Image.new("L", (400, 300), 255).save(image_pdf, "PDF", resolution=100)
    with pytest.raises(OcrUnavailable, match="install tesseract-ocr and tesseract-ocr-chi-sim"):
        PdfParser(options).parse(image_pdf)
    text_pdf = write_pdf(tmp_path / "text.pdf", [Page().add(72, 700, "A text layer needs no OCR.")])
    assert PdfParser(options).parse(text_pdf).text == "A text layer needs no OCR."
    with pytest.raises(OcrUnavailable, match="tesseract-ocr"):
        ImageParser(OcrOptions(binary="zhiku-no-such-tesseract")).parse(tmp_path / "anything.png")


@needs_tesseract
def test_missing_language_names_the_package() -> None:
    problem = Tesseract(OcrOptions(languages="eng+chi_tra_vert_missing")).problem()
    assert problem is not None and "chi_tra_vert_missing" in problem and "apt-get install" in problem


def test_ocr_off_refuses_scans(tmp_path: Path) -> None:
    image_pdf = tmp_path / "scan.pdf"
    Image.new("L", (400, 300), 255).save(image_pdf, "PDF", resolution=100)
    with pytest.raises(ParseError, match="OCR is off"):
        PdfParser(PdfOptions(ocr="off")).parse(image_pdf)


# -- OCR on PDFs -------------------------------------------------------------------------------------


@needs_tesseract
def test_scanned_pdf_is_ocrd_in_chinese_and_english(tmp_path: Path) -> None:
    path = scanned_pdf(tmp_path / "scan.pdf", [ZH, EN])
    doc = PdfParser().parse(path)
    assert doc.metadata["ocr_pages"] == [1]
    assert similar(ZH, doc.text) >= 0.85, doc.text
    assert similar(EN, doc.text) >= 0.9, doc.text
    width, height = 1400 / 200 * 72, 500 / 200 * 72
    for block in doc.blocks:
        assert block.locator.page == 1 and block.locator.bbox is not None
        x0, y0, x1, y1 = block.locator.bbox
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height  # PDF points, y up
    first = doc.blocks[0].locator.bbox
    assert first is not None and first[3] > height * 0.6  # the first line is near the top


class CountingTesseract(Tesseract):
    """The real Tesseract, counting how many of its runs overlap."""

    def __init__(self, options: OcrOptions) -> None:
        super().__init__(options)
        self._lock = threading.Lock()
        self.running = self.peak = 0

    def recognize(self, image: Image.Image, *, page: int = 1, dpi: int | None = None) -> list[OcrParagraph]:
        with self._lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            return super().recognize(image, page=page, dpi=dpi)
        finally:
            with self._lock:
                self.running -= 1


@needs_tesseract
def test_the_pages_of_a_scan_are_read_in_parallel_and_kept_in_order(tmp_path: Path) -> None:
    lines = [[ZH], [EN], ["Page three: the travel policy"], ["第四页：差旅标准"]]
    pages = [scan(text, size=(1000, 300)).convert("RGB") for text in lines]
    path = tmp_path / "scan.pdf"
    pages[0].save(path, "PDF", resolution=200, save_all=True, append_images=pages[1:])
    results = {}
    for workers in (1, 2):
        parser = PdfParser(PdfOptions(ocr_options=OcrOptions(workers=workers)))
        counting = parser._tesseract = CountingTesseract(parser.options.ocr_options)
        doc = parser.parse(path)
        assert counting.peak == workers
        results[workers] = [(b.text, b.locator.page, b.locator.bbox) for b in doc.blocks]
    assert results[1] == results[2]  # the same blocks, in page order, with the same boxes
    assert [page for _, page, _ in results[2]] == sorted(page for _, page, _ in results[2])
    assert {page for _, page, _ in results[2]} == {1, 2, 3, 4}
    assert OcrOptions().worker_count() == max(1, min(len(os.sched_getaffinity(0)), 4))
    # The frames of a multi-page TIFF too.
    tiff = tmp_path / "fax.tiff"
    grey = [page.convert("L") for page in pages]
    grey[0].save(tiff, save_all=True, append_images=grey[1:], compression="tiff_lzw", dpi=(200, 200))
    frames = {}
    for workers in (1, 2):
        image_parser = ImageParser(OcrOptions(workers=workers))
        counting = image_parser._tesseract = CountingTesseract(image_parser.options)
        frames[workers] = [(b.text, b.locator.page, b.locator.bbox) for b in image_parser.parse(tiff).blocks]
        assert counting.peak == workers
    assert frames[1] == frames[2] and {page for _, page, _ in frames[2]} == {1, 2, 3, 4}


@needs_tesseract
def test_mixed_pdf_ocrs_only_the_scanned_page(tmp_path: Path) -> None:
    text_pdf = write_pdf(tmp_path / "text.pdf", [Page().add(72, 700, "Chapter one has a real text layer.")])
    scan_pdf = scanned_pdf(tmp_path / "scan.pdf", [EN])
    writer = PdfWriter()
    for source in (text_pdf, scan_pdf):
        writer.append(str(source))
    mixed = tmp_path / "mixed.pdf"
    with mixed.open("wb") as fh:
        writer.write(fh)
    doc = ParserRegistry().parse(mixed)
    assert doc.metadata["ocr_pages"] == [2]
    assert doc.blocks[0].text == "Chapter one has a real text layer." and doc.blocks[0].locator.page == 1
    assert similar(EN, " ".join(b.text for b in doc.blocks if b.locator.page == 2)) >= 0.9


@needs_tesseract
def test_garbage_text_layer_is_replaced_by_ocr(tmp_path: Path) -> None:
    scan_pdf = scanned_pdf(tmp_path / "scan.pdf", [EN])
    garbage = write_pdf(
        tmp_path / "garbage.pdf", [Page(width=504, height=180).add(20, 100, "\x01\x04\x05\x06\x07\x08\x0e\x0f" * 6)]
    )
    writer = PdfWriter(clone_from=scan_pdf)
    writer.pages[0].merge_page(PdfReader(garbage).pages[0])  # junk text layer over the scanned image
    path = tmp_path / "junk-layer.pdf"
    with path.open("wb") as fh:
        writer.write(fh)
    doc = PdfParser().parse(path)
    assert doc.metadata["ocr_pages"] == [1]
    assert similar(EN, doc.text) >= 0.9 and "\x04" not in doc.text


@needs_tesseract
def test_force_ocr_on_a_text_pdf(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "text.pdf", [Page().add(72, 700, "Forced OCR reads rendered text too.", size=16)])
    doc = PdfParser(PdfOptions(ocr="force")).parse(path)
    assert doc.metadata["ocr_pages"] == [1]
    assert similar("Forced OCR reads rendered text too.", doc.text) >= 0.9


# -- images ------------------------------------------------------------------------------------------


@needs_tesseract
@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_image_ocr(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"notice{suffix}"
    scan([ZH, EN]).save(path)
    doc = ParserRegistry().parse(path)
    assert similar(ZH, doc.text) >= 0.85 and similar(EN, doc.text) >= 0.9, doc.text
    assert doc.metadata["bbox_units"] == "px" and doc.metadata["pages"] == 1
    for block in doc.blocks:
        assert block.locator.page == 1 and block.locator.bbox is not None
        x0, y0, x1, y1 = block.locator.bbox
        assert 0 <= x0 < x1 <= 1400 and 0 <= y0 < y1 <= 500  # pixels, y down


@needs_tesseract
def test_multipage_tiff_pages(tmp_path: Path) -> None:
    path = tmp_path / "fax.tiff"
    first, second = scan([EN]), scan(["Second page says the office opens at ten"])
    first.save(path, save_all=True, append_images=[second], compression="tiff_lzw")
    doc = ImageParser().parse(path)
    assert doc.metadata["pages"] == 2
    assert {b.locator.page for b in doc.blocks} == {1, 2}
    page2 = " ".join(b.text for b in doc.blocks if b.locator.page == 2)
    assert similar("Second page says the office opens at ten", page2) >= 0.9


@needs_tesseract
def test_corrupt_image_fails_alone(tmp_path: Path) -> None:
    path = tmp_path / "broken.png"
    data = Path(tmp_path / "ok.png")
    scan([EN]).save(data)
    path.write_bytes(data.read_bytes()[:300])
    with pytest.raises(ParseError) as info:
        ParserRegistry().parse(path)
    assert "broken.png" in str(info.value)


@needs_tesseract
def test_hanging_ocr_is_stopped_by_the_time_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    scan([EN] * 4, size=(2400, 1600)).save(path)
    with pytest.raises(ParseError, match="OCR took longer than"):
        ImageParser(OcrOptions(timeout=0.05)).parse(path)


@needs_tesseract
def test_huge_scanned_page_is_rendered_within_a_pixel_budget(tmp_path: Path) -> None:
    # A 200 x 200 inch scanned page: rendered at 300 dpi it would be 3.6 gigapixels.
    image_pdf = tmp_path / "poster-image.pdf"
    Image.new("L", (2000, 2000), 255).save(image_pdf, "PDF", resolution=10)
    with pytest.raises(ParseError, match="no text found"):
        PdfParser().parse(image_pdf)


@needs_tesseract
def test_ocr_time_limit_on_one_page_keeps_the_rest(tmp_path: Path) -> None:
    text_pdf = write_pdf(tmp_path / "text.pdf", [Page().add(72, 700, "Page one has its text layer.")])
    scan_pdf = scanned_pdf(tmp_path / "scan.pdf", [EN])
    writer = PdfWriter()
    for source in (text_pdf, scan_pdf):
        writer.append(str(source))
    mixed = tmp_path / "mixed.pdf"
    with mixed.open("wb") as fh:
        writer.write(fh)
    doc = PdfParser(PdfOptions(ocr_options=OcrOptions(timeout=0.01))).parse(mixed)
    assert doc.text == "Page one has its text layer."
    assert doc.metadata["ocr_failed_pages"] == [2] and "OCR took longer" in doc.metadata["warning"]
    with pytest.raises(ParseError, match="OCR took longer"):
        PdfParser(PdfOptions(ocr_options=OcrOptions(timeout=0.01))).parse(scan_pdf)


def test_images_are_sniffed_by_their_bytes(tmp_path: Path) -> None:
    """A PNG/JPEG/TIFF under a wrong name goes to the image parser, not to 'binary file' refusal."""
    from zhiku.parse import _sniff

    for fmt, ext in (("PNG", ".png"), ("JPEG", ".jpg"), ("TIFF", ".tif")):
        path = tmp_path / f"scan-{fmt}.txt"
        Image.new("L", (20, 20), 255).save(path, fmt)
        assert _sniff(path.read_bytes()[:64], path) == ext
        with pytest.raises(ParseError) as info:  # a blank image: no text, but read as an image
            ParserRegistry().parse(path)
        assert "binary" not in str(info.value)
