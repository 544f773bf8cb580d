"""PDF text layer: reading order on column layouts, running headers/footers, locators, headings,
fake bold, encryption, and the shared real-world PDFs. PDFs are written byte by byte
(tests/pdf_writer.py) so every position is known."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from tests.conftest import check_spans, shared_dataset
from tests.pdf_writer import Page, write_pdf
from zhiku.errors import ParseError
from zhiku.ingest import extract_tables
from zhiku.parse import ParserRegistry
from zhiku.parse.layout import Line, paragraphs, reading_order
from zhiku.parse.pdf import PdfOptions, PdfParser
from zhiku.parse.running import remove_running_lines
from zhiku.parse.textlayer import may_be_doubled
from zhiku.settings import Settings
from zhiku.tabletext import column_names

LEFT = [
    "Alpha one starts the first column and",
    "alpha two continues the same sentence",
    "alpha three ends the first paragraph.",
    "Beta one opens the second paragraph",
    "beta two closes it at the column end.",
]
RIGHT = [
    "Gamma one starts the second column",
    "gamma two is still the same sentence",
    "gamma three ends the right column.",
]


def two_column_page(number: int, total: int) -> Page:
    """A title across the page (page 1) or a section title, two columns of 10 pt text, a running
    header and a page footer.

    Content order interleaves the columns row by row (as some generators write them), so only
    geometry can give the right reading order.
    """
    page = Page()
    title = "Quarterly Report of the Lanting Group" if number == 1 else f"Section {number} of the report"
    page.add(72, 740, title, size=18)
    for i in range(max(len(LEFT), len(RIGHT))):
        y = 700 - i * 13 - (6 if i >= 3 else 0)  # a paragraph gap before "Beta one"
        if i < len(LEFT):
            page.add(72, y, LEFT[i])
        if i < len(RIGHT):
            page.add(320, 700 - i * 13, RIGHT[i])
    page.add(72, 770, f"Lanting Group internal - {number}", size=8)
    page.add(290, 30, f"Page {number} of {total}", size=8)
    return page


@pytest.fixture
def parser() -> PdfParser:
    return PdfParser(PdfOptions(ocr="off"))


def test_two_columns_read_column_by_column(parser: PdfParser, tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "columns.pdf", [two_column_page(n, 3) for n in (1, 2, 3)])
    doc = parser.parse(path)
    page1 = [b for b in doc.blocks if b.locator.page == 1]
    texts = [b.text for b in page1]
    assert texts[0] == "Quarterly Report of the Lanting Group"
    assert texts[1:] == [
        "Alpha one starts the first column and alpha two continues the same sentence alpha three ends the "
        "first paragraph.",
        "Beta one opens the second paragraph beta two closes it at the column end.",
        "Gamma one starts the second column gamma two is still the same sentence gamma three ends the right column.",
    ]
    assert doc.blocks[0].kind == "heading" and doc.blocks[0].level == 1
    assert doc.blocks[1].locator.heading_path == ["Quarterly Report of the Lanting Group"]


def test_running_header_footer_and_page_numbers_dropped(parser: PdfParser, tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "columns.pdf", [two_column_page(n, 3) for n in (1, 2, 3)])
    doc = parser.parse(path)
    assert "internal" not in doc.text and "Page 1 of 3" not in doc.text and "of 3" not in doc.text
    assert {b.locator.page for b in doc.blocks} == {1, 2, 3}
    assert doc.metadata["pages"] == 3


def test_blocks_have_page_and_bbox_in_points(parser: PdfParser, tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "columns.pdf", [two_column_page(n, 3) for n in (1, 2, 3)])
    doc = parser.parse(path)
    for block in doc.blocks:
        assert block.locator.page in (1, 2, 3)
        assert block.locator.bbox is not None
        x0, y0, x1, y1 = block.locator.bbox
        assert 0 <= x0 < x1 <= 612 and 0 <= y0 < y1 <= 792
    gamma = next(b for b in doc.blocks if b.text.startswith("Gamma"))
    assert gamma.locator.bbox is not None
    x0, y0, x1, y1 = gamma.locator.bbox
    assert 319 <= x0 <= 321 and 670 <= y0 <= 676 and 705 <= y1 <= 712  # three lines from y=700 down


def test_three_columns_with_spanning_title(parser: PdfParser, tmp_path: Path) -> None:
    page = Page()
    page.add(72, 740, "Notice of Proposed Rules for Airworthiness", size=16)
    columns = {
        40: ["Col one line a of the", "col one line b here.", "Col one second para", "ends right here."],
        220: ["Col two line a of the", "col two line b here."],
        400: ["Col three line a of", "col three line b.", "Col three again here", "and done."],
    }
    # Row-wise content order again: every column's line i before any line i+1.
    for i in range(4):
        for x, lines in columns.items():
            if i < len(lines):
                page.add(x, 700 - i * 12 - (8 if i >= 2 else 0), lines[i], size=9)
    doc = parser.parse(write_pdf(tmp_path / "three.pdf", [page]))
    text = doc.text
    order = [text.index(s) for s in ("Notice", "Col one line a", "Col one second", "Col two", "Col three line a")]
    assert order == sorted(order)
    assert "Col one line a of the col one line b here." in text
    assert "Col three again here and done." in text


def test_full_width_paragraph_between_column_sections(parser: PdfParser, tmp_path: Path) -> None:
    page = Page()
    for i in range(3):
        page.add(72, 700 - i * 12, f"top left {i} text", size=9)
        page.add(320, 700 - i * 12, f"top right {i} text", size=9)
    page.add(72, 640, "A full width sentence crosses the gutter between both columns of the page.", size=9)
    for i in range(3):
        page.add(72, 600 - i * 12, f"low left {i} text", size=9)
        page.add(320, 600 - i * 12, f"low right {i} text", size=9)
    doc = parser.parse(write_pdf(tmp_path / "sections.pdf", [page]))
    text = doc.text
    marks = ["top left 2", "top right 0", "top right 2", "A full width", "low left 0", "low left 2", "low right 0"]
    assert [text.index(m) for m in marks] == sorted(text.index(m) for m in marks)


def test_headings_from_font_size_and_bold(parser: PdfParser, tmp_path: Path) -> None:
    page = Page()
    page.add(72, 740, "Travel Policy", size=20)
    page.add(72, 710, "Hotels", size=14)
    page.add(72, 690, "Staff book hotels through the portal and keep every receipt for")
    page.add(72, 677, "the finance team, who check them each month.")
    page.add(72, 650, "Meal limits", size=10, bold=True)
    page.add(72, 634, "Meals cost at most 150 yuan per day in every city we travel to")
    page.add(72, 621, "and the limit includes drinks.")
    doc = parser.parse(write_pdf(tmp_path / "headings.pdf", [page]))
    heads = [(b.text, b.level) for b in doc.blocks if b.kind == "heading"]
    assert heads == [("Travel Policy", 1), ("Hotels", 2), ("Meal limits", 3)]
    meals = next(b for b in doc.blocks if b.text.startswith("Meals cost"))
    assert meals.locator.heading_path == ["Travel Policy", "Hotels", "Meal limits"]


def test_hyphenated_words_rejoined(parser: PdfParser, tmp_path: Path) -> None:
    page = Page()
    page.add(72, 700, "Employees must protect customer infor-")
    page.add(72, 687, "mation and report any loss at once.")
    doc = parser.parse(write_pdf(tmp_path / "hyphen.pdf", [page]))
    assert doc.text == "Employees must protect customer information and report any loss at once."


def test_fake_bold_doubled_characters_repaired(parser: PdfParser, tmp_path: Path) -> None:
    page = Page()
    page.add(72, 700, "TThhee  qquuaarrtteerrllyy  rreeppoorrtt", size=14, bold=True)
    page.add(72, 680, "Normal text keeps its doubled letters: all good books need cool coffee.")
    doc = parser.parse(write_pdf(tmp_path / "bold.pdf", [page]))
    assert doc.blocks[0].text == "The quarterly report"
    assert "all good books need cool coffee." in doc.text


def test_fake_bold_repaired_on_a_long_page(parser: PdfParser, tmp_path: Path) -> None:
    # Over 2,000 characters: the page-level pre-check compares code points with numpy instead of
    # running the regular expression; the repair must not change.
    page = Page()
    page.add(72, 740, "TThhee  qquuaarrtteerrllyy  rreeppoorrtt", size=14, bold=True)
    for i in range(40):
        page.add(72, 720 - i * 14, f"Line {i} of ordinary text keeps all its letters, even in coffee and books.")
    doc = parser.parse(write_pdf(tmp_path / "bold-long.pdf", [page]))
    assert len(doc.text) > 2000
    assert doc.blocks[0].text == "The quarterly report"
    assert "Line 39 of ordinary text keeps all its letters, even in coffee and books." in doc.text


def test_doubled_run_precheck_matches_the_regular_expression() -> None:
    search = re.compile(r"(\S)\1(\S)\2(\S)\3").search
    rng = random.Random(3)
    alphabet = ["a", "b", " ", " ", "\t", "\n", "\u3000", "\xa0", "\x1c", "1", "-", "中", "\U0001f600", "\ufffe"]
    found = 0
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1990, 2300)))
        assert may_be_doubled(text) == (search(text) is not None)
        found += search(text) is not None
    assert 0 < found < 300  # both answers were exercised
    prose = "The quick brown fox jumps over the lazy dog. " * 60
    assert not may_be_doubled(prose)
    assert may_be_doubled(prose + "TThhee")
    assert not may_be_doubled(prose + "  \u3000\u3000  ")  # doubled spaces are not fake bold


def test_table_row_with_cells_is_a_table(parser: PdfParser, tmp_path: Path) -> None:
    page = Page()
    page.add(72, 720, "Travel allowance per city:")
    rows = [("City", "Hotel", "Meals"), ("Beijing", "600", "150"), ("Hangzhou", "450", "120"), ("Xi'an", "380", "100")]
    for i, row in enumerate(rows):
        for x, cell in zip((72, 200, 300), row, strict=True):
            page.add(x, 690 - i * 14, cell)
    page.add(72, 600, "Amounts are in yuan per night and per day.")
    doc = parser.parse(write_pdf(tmp_path / "table.pdf", [page]))
    table = next(b for b in doc.blocks if b.kind == "table")
    assert table.rows == [list(r) for r in rows]
    assert table.text.splitlines()[0] == "| City | Hotel | Meals |"
    assert doc.blocks[-1].text == "Amounts are in yuan per night and per day."


def _encrypt(source: Path, target: Path, password: str) -> Path:
    writer = PdfWriter()
    for page in PdfReader(source).pages:
        writer.add_page(page)
    writer.encrypt(user_password=password, owner_password=password + "-owner")
    with target.open("wb") as fh:
        writer.write(fh)
    return target


def test_encrypted_pdf_needs_the_password(tmp_path: Path) -> None:
    plain = write_pdf(tmp_path / "plain.pdf", [Page().add(72, 700, "Salary bands are confidential.")])
    locked = _encrypt(plain, tmp_path / "locked.pdf", "s3cret")
    with pytest.raises(ParseError, match="password is required; set pdf_password"):
        PdfParser().parse(locked)
    with pytest.raises(ParseError, match="password in pdf_password is wrong"):
        PdfParser(PdfOptions(password="nope")).parse(locked)
    doc = PdfParser.from_settings(Settings(home=tmp_path, pdf_password="s3cret")).parse(locked)
    assert doc.text == "Salary bands are confidential."


def test_registry_error_names_file_and_option(tmp_path: Path) -> None:
    plain = write_pdf(tmp_path / "plain.pdf", [Page().add(72, 700, "Secret.")])
    locked = _encrypt(plain, tmp_path / "payroll.pdf", "pw")
    with pytest.raises(ParseError) as info:
        ParserRegistry().parse(locked)
    assert "payroll.pdf" in str(info.value) and "pdf_password" in str(info.value)


# -- layout unit tests (no PDF) ----------------------------------------------------------------------


def _line(x0: float, y: float, x1: float, text: str, size: float = 10.0) -> Line:
    return Line(x0, y, x1, y + 9, text, size)


def test_reading_order_regroups_columns_below_a_title() -> None:
    lines = [_line(72, 740, 540, "Title across")]
    for i in range(4):
        lines.append(_line(72, 700 - 12 * i, 290, f"left {i}"))
        lines.append(_line(320, 700 - 12 * i, 540, f"right {i}"))
    regions = reading_order(lines)
    flat = [ln.text for region in regions for ln in region.lines]
    assert flat == ["Title across", *[f"left {i}" for i in range(4)], *[f"right {i}" for i in range(4)]]


def test_lone_wide_space_is_not_a_gutter() -> None:
    lines = [
        _line(72, 700, 300, "first line of a paragraph that is long"),
        _line(72, 688, 110, "Table 1."),
        _line(130, 688, 300, "Results of the test run"),
        _line(72, 676, 300, "continues on the next line of it."),
    ]
    regions = reading_order(lines)
    flat = [ln.text for region in regions for ln in region.lines]
    assert flat == [
        "first line of a paragraph that is long",
        "Table 1. Results of the test run",
        "continues on the next line of it.",
    ]


def test_paragraphs_split_on_gap_and_indent() -> None:
    lines = [
        _line(72, 700, 300, "One first line"),
        _line(72, 688, 300, "one second line."),
        _line(90, 676, 300, "Indented new paragraph"),
        _line(72, 664, 300, "goes on."),
        _line(72, 630, 300, "After a gap."),
    ]
    assert [p.text for p in paragraphs(lines)] == [
        "One first line one second line.",
        "Indented new paragraph goes on.",
        "After a gap.",
    ]


def test_running_lines_need_half_the_pages() -> None:
    def page(n: int, header: str) -> list[Line]:
        return [_line(72, 760, 300, header), _line(72, 400, 300, f"body {n}"), _line(300, 20, 320, str(n))]

    pages = [page(1, "Annual report 2024"), page(2, "Annual report 2024"), page(3, "Chapter one")]
    kept = remove_running_lines(pages, [(612, 792)] * 3)
    assert [[ln.text for ln in p] for p in kept] == [["body 1"], ["body 2"], ["Chapter one", "body 3"]]


def test_numbered_headings_and_table_rows_at_the_top_of_pages_are_kept() -> None:
    # Digits were ignored when matching running text, so "Article 3" / "Article 4" / "Article 5"
    # opening each page, and a ledger's first rows ("INV-1005 06/2024 785.00 USD"), were dropped as
    # a running header; so was "01/2024" as "page 1 of 2024".
    def page(n: int) -> list[Line]:
        rows = [
            [_line(72, 745 - 18 * i, 150, f"INV-{1000 + 5 * n + i}"), _line(200, 745 - 18 * i, 260, f"0{i + 1}/2024")]
            for i in range(2)
        ]
        return [
            _line(72, 770, 200, f"Article {n + 3}", size=13.0),
            *[cell for row in rows for cell in row],
            _line(72, 400, 300, f"body {n}"),
            _line(300, 20, 320, str(n + 1)),  # the page number: still dropped
            _line(72, 40, 500, f"VerDate Sep<11>2014 16:2{n} Frm 0000{n + 1} Sfmt 4702", size=7.0),  # and this footer
        ]

    kept = remove_running_lines([page(n) for n in range(3)], [(612, 792)] * 3, body=10.0)
    for n, lines in enumerate(kept):
        assert [ln.text for ln in lines] == [
            f"Article {n + 3}",
            f"INV-{1000 + 5 * n}",
            "01/2024",
            f"INV-{1001 + 5 * n}",
            "02/2024",
            f"body {n}",
        ]


def test_page_numbers_and_running_titles_with_numbers_still_go() -> None:
    def page(n: int) -> list[Line]:
        return [_line(72, 760, 400, f"Annual report 2024 · Page {n + 7} of 30"), _line(72, 400, 300, f"body {n}")]

    kept = remove_running_lines([page(n) for n in range(4)], [(612, 792)] * 4, body=10.0)
    assert [[ln.text for ln in p] for p in kept] == [[f"body {n}"] for n in range(4)]


# -- the shared real-world PDFs ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def real() -> Path:
    return shared_dataset("doc_parsing", "pdf")


def test_federal_register_three_columns(real: Path) -> None:
    doc = PdfParser().parse(real / "federal-register-2020-17221.pdf")
    text = doc.text
    # A sentence running down a column over five lines comes out in one piece.
    assert (
        "The FAA proposes to supersede Airworthiness Directive (AD) 2018–23–51, which applies to all The "
        "Boeing Company Model 737–8 and 737– 9 (737 MAX) airplanes." in text
    )
    # The first column's last words are followed by the second column's first.
    assert text.index("by any of the following methods:") < text.index("Federal eRulemaking Portal")
    # Running header, production footer and the rotated margin note are gone from every page.
    assert "Federal Register / Vol. 85" not in text
    assert "VerDate" not in text and "Jkt 250001" not in text
    assert "jbell on DSKJLSW7X2PROD" not in text
    assert all(b.locator.bbox is not None for b in doc.blocks)


def test_nics_dense_statistics_table(real: Path) -> None:
    # Every state's row as the text layer states it (pdfium's own line: name, then its numbers)
    # must be one table row, its cells in order: tight numeric columns are cut at their rules.
    import pypdfium2 as pdfium

    path = real / "nics-background-checks-2015-11.pdf"
    pdf = pdfium.PdfDocument(str(path))
    try:
        text = pdf[0].get_textpage().get_text_range()
    finally:
        pdf.close()
    expected = {}
    for line in text.split("\r\n"):
        m = re.match(r"^([A-Z][A-Za-z .]+?) ((?:[\d,]+ ?)+)$", line.strip())
        if m:
            expected[m.group(1).strip()] = m.group(2).strip()
    assert len(expected) >= 55
    doc = PdfParser().parse(path)
    table = next(b for b in doc.blocks if b.kind == "table")
    assert table.name == "NICS Firearm Background Checks November - 2015"
    # A two-level header: the group labels ("Pre-Pawn" over Handgun | Long Gun | *Other) have no
    # rule under them, only the sub-columns' rules ending below them.
    assert table.rows is not None
    upper, lower = table.rows[0], table.rows[1]
    assert upper[0] == "State / Territory" and upper[-1] == "Totals" and lower[:3] == ["", "Permit", "Handgun"]
    assert [c for c in upper if c][1:3] == ["Pre-Pawn", "Redemption"]
    assert upper[upper.index("Pre-Pawn") : upper.index("Pre-Pawn") + 4] == ["Pre-Pawn", "", "", "Redemption"]
    assert lower[upper.index("Pre-Pawn") : upper.index("Pre-Pawn") + 3] == ["Handgun", "Long Gun", "*Other"]
    got = {row[0]: " ".join(c for c in row[1:] if c) for row in table.rows[2:]}
    assert {name: got.get(name) for name in expected} == expected
    texas = next(i for i, line in enumerate(table.text.split("\n")) if line.startswith("| Texas |"))
    offset = sum(len(line) + 1 for line in table.text.split("\n")[:texas])
    names = column_names(table.text, offset)
    assert names[:3] == ["State / Territory", "Permit", "Handgun"] and names[-1] == "Totals"
    assert "Pre-Pawn/Long Gun" in names and "Return to Seller - Private Sale/*Other" in names
    (record,) = extract_tables(doc)
    assert record.columns == names and len(record.columns) == len(set(record.columns))
    assert record.rows[0][0] == "Alabama" and record.rows[-1][0] == "Totals" and len(record.rows) == 56
    assert any(b.kind == "paragraph" and b.text.startswith("NOTES: DISCLAIMERS:") for b in doc.blocks)


def test_amt_handbook_two_columns(real: Path) -> None:
    doc = PdfParser().parse(real / "amt_handbook_sample.pdf")
    text = doc.text
    assert "The wing type that is" in text
    assert text.index("The wing type that is") < text.index("the most common ranges in size")
    assert "up to 1⁄4 inch, the Rol-top ranges from 1⁄4 inch to 1⁄6 inch" in text  # fractions stay inline
    assert text.index("Stainless Steel Self-Locking Nut") < text.index("Elastic Stop Nut")
    heads = [b.text for b in doc.blocks if b.kind == "heading"]
    assert {"Boots Self-Locking Nut", "Stainless Steel Self-Locking Nut", "Elastic Stop Nut"} <= set(heads)
    assert "7-45" not in text  # the page number


def test_arxiv_page_caption_and_table(real: Path) -> None:
    doc = PdfParser().parse(real / "2305.03393v1-pg9.pdf")
    assert "Table 1. HPO performed in OTSL and HTML representation on the same transformer-based" in doc.text
    assert "Effects of reducing the # of layers" in doc.text  # the hyphen-joined line is split back
    assert any(b.kind == "heading" and b.text == "5.2 Quantitative Results" for b in doc.blocks)
    assert "Optimized Table Tokenization" not in doc.text  # the running title with its page number
    table = next(b for b in doc.blocks if b.kind == "table")
    assert table.rows is not None
    # Sub-rows (OTSL over HTML) and the row label centred between them form one row, as in the paper.
    assert ["6", "6", "OTSL HTML", "0.965 0.969", "0.934 0.927", "0.955 0.955", "0.88 0.857", "2.73 5.39"] in table.rows
    assert ["4", "2", "OTSL HTML", "0.952 0.944", "0.92 0.903", "0.942 0.931", "0.857 0.824", "1.22 2"] in table.rows


# -- ruled tables ------------------------------------------------------------------------------------


def _rule(x0: float, y0: float, x1: float, y1: float, thick: float = 0.5) -> str:
    """A border drawn the Word way: a thin filled rectangle."""
    if y0 == y1:
        return f"{x0:.1f} {y0 - thick / 2:.1f} {x1 - x0:.1f} {thick:.1f} re f"
    return f"{x0 - thick / 2:.1f} {y0:.1f} {thick:.1f} {y1 - y0:.1f} re f"


def test_ruled_table_with_merged_and_wrapped_cells(parser: PdfParser, tmp_path: Path) -> None:
    ys = [720.0, 700.0, 680.0, 650.0, 630.0]
    rules = [_rule(72, 720, 440, 720), _rule(200, 700, 440, 700)]  # no rule under "Region": it spans 2 rows
    rules += [_rule(72, y, 440, y) for y in ys[2:]]
    rules += [_rule(x, 630, x, 720) for x in (72, 200, 440)]
    rules.append(_rule(320, 630, 320, 700))  # no rule inside "Sales": it spans 2 columns
    page = Page(drawing="\n".join(["0 g", *rules]))
    page.add(72, 740, "Sales by region, in thousands of yuan:")
    cells = [
        (76, 704, "Region"),
        (204, 705, "Sales"),
        (204, 685, "2023"),
        (324, 685, "2024"),
        (76, 667, "North and east"),
        (76, 655, "districts"),
        (204, 660, "1,200"),
        (324, 660, "1,350"),
        (76, 635, "South"),
        (204, 635, "980"),
        (324, 635, "1,010"),
    ]
    for x, y, text in cells:
        page.add(x, y, text, size=9)
    page.add(72, 600, "Figures are unaudited.")
    doc = parser.parse(write_pdf(tmp_path / "ruled.pdf", [page]))
    assert [b.kind for b in doc.blocks] == ["paragraph", "table", "paragraph"]
    table = doc.blocks[1]
    assert table.rows == [
        ["Region", "Sales", ""],
        ["", "2023", "2024"],
        ["North and east districts", "1,200", "1,350"],
        ["South", "980", "1,010"],
    ]
    assert table.locator.bbox is not None and table.locator.bbox[0] == pytest.approx(72, abs=1)
    assert doc.blocks[2].text == "Figures are unaudited."


def test_group_label_over_sub_columns_without_a_rule_under_it(parser: PdfParser, tmp_path: Path) -> None:
    # The NICS layout: one header row between two rules; the sub-columns' rules stop at 704, below
    # the group labels; "Item" and "Total" have no inner rule and span the whole header.
    rules = [_rule(72, y, 310, y) for y in (720, 690, 670, 650)]
    rules += [_rule(x, 650, x, 720) for x in (72, 110, 190, 270, 310)]
    rules += [_rule(x, 650, x, 704) for x in (150, 230)]
    page = Page(drawing="\n".join(["0 g", *rules]))
    cells = [(76, 700, "Item"), (135, 710, "Sales"), (212, 710, "Returns"), (276, 700, "Total")]
    cells += [(114, 694, "North"), (154, 694, "South"), (194, 694, "North"), (234, 694, "South")]
    cells += [(76, 676, "Paper"), (114, 676, "12"), (154, 676, "7"), (194, 676, "1"), (234, 676, "0")]
    cells += [(76, 656, "Toner"), (114, 656, "3"), (154, 656, "5"), (194, 656, "0"), (234, 656, "2")]
    cells += [(276, 676, "20"), (276, 656, "10")]
    for x, y, text in sorted(cells, key=lambda c: (-c[1], c[0])):
        page.add(x, y, text, size=8)
    doc = parser.parse(write_pdf(tmp_path / "groups.pdf", [page]))
    table = next(b for b in doc.blocks if b.kind == "table")
    assert table.rows == [
        ["Item", "Sales", "", "Returns", "", "Total"],
        ["", "North", "South", "North", "South", ""],
        ["Paper", "12", "7", "1", "0", "20"],
        ["Toner", "3", "5", "0", "2", "10"],
    ]
    toner = table.text.index("| Toner |")
    assert column_names(table.text, toner) == [
        "Item",
        "Sales/North",
        "Sales/South",
        "Returns/North",
        "Returns/South",
        "Total",
    ]


def test_open_table_with_inner_rules_only(parser: PdfParser, tmp_path: Path) -> None:
    # Top, header and bottom rules across the table, column rules only between columns.
    drawing = [_rule(72, 720, 400, 720), _rule(72, 702, 400, 702), _rule(72, 650, 400, 650)]
    drawing += [_rule(x, 650, x, 720) for x in (180, 290)]
    page = Page(drawing="\n".join(drawing))
    rows = [("Item", "Unit", "Price"), ("Paper", "box", "35"), ("Toner", "each", "420"), ("Pens", "pack", "12")]
    for i, row in enumerate(rows):
        y = 707 if i == 0 else 690 - (i - 1) * 14
        for x, cell in zip((76, 184, 294), row, strict=True):
            page.add(x, y, cell, size=9)
    doc = parser.parse(write_pdf(tmp_path / "open.pdf", [page]))
    table = next(b for b in doc.blocks if b.kind == "table")
    assert table.rows == [list(r) for r in rows]


def test_table_of_text_between_two_rules(parser: PdfParser, tmp_path: Path) -> None:
    # Only a top and a bottom rule, column rules between them, and text in every cell: without the
    # grid it reads as three text columns ("Department name Finance and audit Sales ...").
    drawing = [_rule(72, 760, 400, 760), _rule(72, 714, 400, 714)]
    drawing += [_rule(x, 714, x, 760) for x in (180, 290)]
    page = Page(drawing="\n".join(drawing))
    rows = [
        ("Department name", "Manager", "Location"),
        ("Finance and audit", "Li Wei", "Beijing"),
        ("Sales and marketing", "Zhao Min", "Shanghai"),
    ]
    for i, row in enumerate(rows):
        for x, cell in zip((76, 184, 294), row, strict=True):
            page.add(x, 748 - 14 * i, cell, size=9)
    page.add(72, 600, "The officers are appointed by the board.")
    # A framed note (a box with no rule inside) stays a paragraph.
    page.drawing += "\n" + "\n".join(
        [_rule(72, 580, 400, 580), _rule(72, 540, 400, 540), _rule(72, 540, 72, 580), _rule(400, 540, 400, 580)]
    )
    page.add(80, 560, "Note: appointments are reviewed every year.")
    doc = parser.parse(write_pdf(tmp_path / "two-rules.pdf", [page]))
    assert [b.kind for b in doc.blocks] == ["table", "paragraph", "paragraph"]
    assert doc.blocks[0].rows == [list(r) for r in rows]
    assert doc.blocks[2].text == "Note: appointments are reviewed every year."


def test_banded_numeric_table_cut_at_its_column_rules(parser: PdfParser, tmp_path: Path) -> None:
    # A statistics table the NICS way: a title and a note inside the frame, column rules, a rule
    # every three rows only, right-aligned numbers in narrow columns (their gaps are smaller than a
    # word space, so the text layer runs a row's numbers together across the rules).
    left, right, size = 40.0, 400.0, 6.0
    columns = [40.0, 110.0, 132.0, 154.0, 176.0, 300.0, 400.0]
    names = ["Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado"]
    values = [[f"{10_000 + 3_797 * r + 1_111 * c:,}" for c in range(5)] for r in range(len(names))]
    top, step = 700.0, 12.0
    header_y, first_y = top - 30, top - 42
    last = first_y - step * len(names) + 8
    bottom = last - 16
    rules = [_rule(left, y, right, y) for y in (top, top - 18, header_y - 4, first_y - 3 * step + 8, last, bottom)]
    rules += [_rule(x, bottom, x, top) for x in (left, right)]
    rules += [_rule(x, last, x, top - 18) for x in columns[1:-1]]
    page = Page(drawing="\n".join(["0 g", *rules]))
    page.add(150, top - 13, "Background Checks 2015", size=9)
    heads = ("State", "Permit", "Hand", "Long", "Other", "Totals")
    for x, text in zip((42, 112, 134, 156, 178, 302), heads, strict=True):
        page.add(x, header_y, text, size=size)
    for r, (name, row) in enumerate(zip(names, values, strict=True)):
        y = first_y - step * r
        page.add(42, y, name, size=size)
        for c, value in enumerate(row):
            width = sum(0.278 if ch == "," else 0.556 for ch in value) * size  # Helvetica widths
            page.add(columns[c + 2] - 1.0 - width, y, value, size=size)
    page.add(42, bottom + 6, "NOTES: figures are checks initiated, not firearms sold.", size=size)
    doc = parser.parse(write_pdf(tmp_path / "banded.pdf", [page]))
    table = next(b for b in doc.blocks if b.kind == "table")
    assert table.name == "Background Checks 2015"
    assert table.rows is not None and table.rows[0] == list(heads)
    assert table.rows[1:] == [[name, *row] for name, row in zip(names, values, strict=True)]
    note = doc.blocks[doc.blocks.index(table) + 1]
    assert note.kind == "paragraph" and note.text.startswith("NOTES: figures are checks")


def test_short_chinese_line_ends_its_paragraph() -> None:
    lines = [
        _line(72, 700, 500, "公司董事会、监事会及董事、监事、高级管理人员保证季度报告内容的真"),
        _line(72, 686, 300, "实、准确、完整"),
        _line(72, 672, 120, "□ 是 √ 否"),
        _line(72, 658, 500, "公司报告期不存在将根据定义列举的非经常性损益项目界定为经常性损益"),
        _line(72, 644, 200, "的项目的情形。"),
    ]
    assert [p.text for p in paragraphs(lines)] == [
        "公司董事会、监事会及董事、监事、高级管理人员保证季度报告内容的真实、准确、完整",
        "□ 是 √ 否",
        "公司报告期不存在将根据定义列举的非经常性损益项目界定为经常性损益的项目的情形。",
    ]


def test_sentence_runs_on_across_columns_past_a_footnote(parser: PdfParser, tmp_path: Path) -> None:
    page = Page()
    left = ["The committee met on Monday and it", "agreed that the new travel rules will", "apply from the first of"]
    right = ["March to every office of the group.", "Questions go to the finance team."]
    for i, text in enumerate(left):
        page.add(72, 700 - 13 * i, text)
    page.add(72, 120, "1 The minutes are kept by the secretary.", size=7)
    for i, text in enumerate(right):
        page.add(320, 700 - 13 * i, text.replace("March", "march"))
    doc = parser.parse(write_pdf(tmp_path / "runon.pdf", [page]))
    texts = [b.text for b in doc.blocks]
    assert texts[0] == (
        "The committee met on Monday and it agreed that the new travel rules will apply from the first of "
        "march to every office of the group. Questions go to the finance team."
    )
    assert texts[-1] == "1 The minutes are kept by the secretary."
    bbox = doc.blocks[0].locator.bbox
    assert bbox is not None and bbox[0] < 80 and bbox[2] > 320  # the joined paragraph spans both columns


def test_settings_reach_the_parsers_through_the_app(tmp_path: Path) -> None:
    """pdf_password set on the App's Settings opens an encrypted PDF in ingestion (worker processes
    build their registry from the same settings)."""
    from zhiku.app import App

    plain = write_pdf(tmp_path / "plain.pdf", [Page().add(72, 700, "Salary bands are reviewed every April.")])
    (tmp_path / "docs").mkdir()
    locked = _encrypt(plain, tmp_path / "docs" / "payroll.pdf", "s3cret")
    for password, ok in ((None, False), ("s3cret", True)):
        home = tmp_path / f"home-{ok}"
        app = App(Settings(home=home, embedder="hash", pdf_password=password))
        try:
            app.create_kb("kb")
            report = app.add_paths("kb", [locked])
            assert report.ok is ok, report.summary()
            if not ok:
                assert "pdf_password" in report.failed[0].reason
            else:
                hits = app.search("kb", "salary bands April").hits
                assert hits and "April" in hits[0].text
        finally:
            app.close()


def _grid_table(page: Page, top: float, rows: list[tuple[str, str, str]]) -> None:
    """A fully ruled table (a rule under every row, inner column rules), one row per 14 pt."""
    bottom = top - 14 * len(rows)
    drawing = [_rule(72, top - 14 * i, 400, top - 14 * i) for i in range(len(rows) + 1)]
    drawing += [_rule(x, bottom, x, top) for x in (180, 290)]
    page.drawing = "\n".join(filter(None, [page.drawing, *drawing]))
    for i, row in enumerate(rows):
        for x, cell in zip((76, 184, 294), row, strict=True):
            page.add(x, top - 11 - 14 * i, cell, size=9)


def test_table_continued_on_the_next_page_repeats_its_header(parser: PdfParser, tmp_path: Path) -> None:
    first, second = Page(), Page()
    first.add(72, 740, "Balance sheet, in yuan", size=12)
    header = ("Item", "Closing", "Opening")
    _grid_table(first, 200, [header, ("Cash", "23,182", "20,119"), ("Receivables", "1,200", "1,100")])
    _grid_table(second, 760, [("Inventory", "300", "280"), ("Total assets", "24,682", "21,499")])
    second.add(72, 600, "The notes form part of the statements.")
    doc = parser.parse(write_pdf(tmp_path / "continued.pdf", [first, second]))
    check_spans(doc)
    tables = [b for b in doc.blocks if b.kind == "table"]
    assert [t.locator.page for t in tables] == [1, 2]
    assert tables[1].rows == [["Inventory", "300", "280"], ["Total assets", "24,682", "21,499"]]  # as printed
    assert tables[1].text.startswith("| Item | Closing | Opening |\n| --- | --- | --- |\n| Inventory | 300 | 280 |")
    # Stored as one structured table: the SQL tool sums a statement over all its pages.
    (record,) = extract_tables(doc)
    assert record.columns == ["Item", "Closing", "Opening"] and record.locator.page == 1
    assert [row[0] for row in record.rows] == ["Cash", "Receivables", "Inventory", "Total assets"]
    # A table on the next page with column names of its own is a new table.
    other = Page()
    _grid_table(other, 760, [("Name", "Role", "Since"), ("Li Wei", "CFO", "2019"), ("Zhao Min", "CEO", "2016")])
    other.add(72, 600, "The officers are appointed by the board.")
    doc = parser.parse(write_pdf(tmp_path / "new.pdf", [first, other]))
    assert [b for b in doc.blocks if b.kind == "table"][1].text.startswith("| Name | Role | Since |")


def test_chunks_and_citations_carry_the_box_of_their_text_on_the_page() -> None:
    # Formats trial: the parser knew each block's box, but chunks and citations held the page only.
    from zhiku.chunk import Chunker

    doc = PdfParser().parse(Path(__file__).parent / "fixtures" / "multipage_zh_en.pdf")
    chunks = Chunker(max_tokens=120, overlap=0).chunk(doc)
    assert chunks and all(c.locator.bbox is not None for c in chunks)
    for chunk in chunks:
        x0, y0, x1, y1 = chunk.locator.bbox  # type: ignore[misc]
        on_page = [b.locator.bbox for b in doc.blocks if b.locator.page == chunk.locator.page and b.locator.bbox]
        assert x0 < x1 and y0 < y1 and any(x0 <= b[0] and b[2] <= x1 for b in on_page)
    assert "bbox" in chunks[0].locator.to_dict()
