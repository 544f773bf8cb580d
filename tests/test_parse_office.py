"""PPTX, XLSX/XLSM, CSV/TSV parsers on real files written by python-pptx / openpyxl in the test, plus
the shared docling fixtures when present: structure, merged cells, locators, corrupt files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import shared_dataset
from pptx import Presentation
from pptx.util import Inches, Pt

from tests.conftest import check_spans
from zhiku.chunk import Chunker
from zhiku.errors import ParseError
from zhiku.parse import ParserRegistry
from zhiku.types import Block, ParsedDocument


def blocks_of(doc: ParsedDocument, kind: str) -> list[Block]:
    return [b for b in doc.blocks if b.kind == kind]


# --- PPTX ---------------------------------------------------------------------------------------------


def _deck(path: Path) -> None:
    prs = Presentation()
    # Slide 1: title + bulleted body (two levels) + notes.
    s1 = prs.slides.add_slide(prs.slide_layouts[1])
    s1.shapes.title.text = "Quarterly review"
    body = s1.placeholders[1].text_frame
    body.text = "Revenue grew 12%"
    p = body.add_paragraph()
    p.text = "Mostly from APAC"
    p.level = 1
    body.add_paragraph().text = "Costs flat"
    s1.notes_slide.notes_text_frame.text = "Mention the hiring freeze."
    # Slide 2: title only layout, two side-by-side text boxes (right one slightly higher), a table
    # with merged cells below them, and a group holding a caption.
    s2 = prs.slides.add_slide(prs.slide_layouts[5])
    s2.shapes.title.text = "Regional numbers"
    right = s2.shapes.add_textbox(Inches(5), Inches(1.95), Inches(4), Inches(1))
    right.text_frame.text = "Right column text"
    left = s2.shapes.add_textbox(Inches(0.5), Inches(2.0), Inches(4), Inches(1))
    left.text_frame.text = "Left column text"
    table = s2.shapes.add_table(4, 3, Inches(0.5), Inches(3.5), Inches(8), Inches(2)).table
    data = [["Region", "Q1", "Q2"], ["North", "10", "11"], ["South", "7", "9"], ["Total", "17", "20"]]
    for r, row in enumerate(data):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    table.cell(0, 1).merge(table.cell(0, 2))  # "Q1" header spans Q1 and Q2
    table.cell(0, 1).text = "Sales"
    group = s2.shapes.add_group_shape()
    caption = group.shapes.add_textbox(Inches(0.5), Inches(6), Inches(4), Inches(0.5))
    caption.text_frame.text = "Source: finance team"
    caption.text_frame.paragraphs[0].runs[0].font.size = Pt(10)
    # Slide 3: blank layout, no title, one text box.
    s3 = prs.slides.add_slide(prs.slide_layouts[6])
    s3.shapes.add_textbox(Inches(1), Inches(1), Inches(4), Inches(1)).text_frame.text = "Questions?"
    # Slide 4: blank and empty: contributes nothing.
    prs.slides.add_slide(prs.slide_layouts[6])
    prs.core_properties.title = "Q3 review deck"
    prs.save(str(path))


def test_pptx_slides_titles_lists_notes(registry: ParserRegistry, tmp_path: Path) -> None:
    path = tmp_path / "deck.pptx"
    _deck(path)
    doc = registry.parse(path)
    check_spans(doc)
    assert doc.title == "Q3 review deck"
    assert doc.metadata["slides"] == 4
    s1 = [b for b in doc.blocks if b.locator.slide == 1]
    assert [b.kind for b in s1] == ["heading", "list", "paragraph"]
    assert s1[0].text == "Quarterly review"
    assert all(b.locator.heading_path == ["Slide 1: Quarterly review"] for b in s1)
    assert s1[1].text == "- Revenue grew 12%\n  - Mostly from APAC\n- Costs flat"
    assert s1[2].text == "Notes: Mention the hiring freeze."
    # Every block knows its slide; the empty slide 4 adds nothing.
    assert {b.locator.slide for b in doc.blocks} == {1, 2, 3}


def test_pptx_reading_order_tables_groups(registry: ParserRegistry, tmp_path: Path) -> None:
    path = tmp_path / "deck.pptx"
    _deck(path)
    doc = registry.parse(path)
    s2 = [b for b in doc.blocks if b.locator.slide == 2]
    texts = [b.text for b in s2]
    # Side-by-side boxes read left to right even though the right one starts a little higher;
    # the table below them comes next; the grouped caption at the bottom last.
    assert texts[0] == "Regional numbers"
    assert texts[1:3] == ["Left column text", "Right column text"]
    table = s2[3]
    assert table.kind == "table" and table.locator.slide == 2
    # The merged header is repeated in both columns it covers: no lost column.
    assert table.rows == [
        ["Region", "Sales", "Sales"],
        ["North", "10", "11"],
        ["South", "7", "9"],
        ["Total", "17", "20"],
    ]
    assert table.text.splitlines()[0] == "| Region | Sales | Sales |"
    assert texts[4] == "Source: finance team"
    s3 = [b for b in doc.blocks if b.locator.slide == 3]
    assert [(b.kind, b.text) for b in s3] == [("heading", "Slide 3"), ("paragraph", "Questions?")]
    assert s3[0].locator.heading_path == ["Slide 3"]


def test_pptx_chunks_keep_slide_numbers(registry: ParserRegistry, tmp_path: Path) -> None:
    path = tmp_path / "deck.pptx"
    _deck(path)
    doc = registry.parse(path)
    chunks = Chunker(max_tokens=60, overlap=10).chunk(doc)
    by_slide = {c.locator.slide for c in chunks}
    assert by_slide == {1, 2, 3}
    notes_chunk = next(c for c in chunks if "hiring freeze" in c.text)
    assert notes_chunk.locator.slide == 1 and "Slide 1: Quarterly review" in notes_chunk.context
    assert "slide 2" in next(c for c in chunks if "Sales" in c.text).locator.describe()


def test_pptx_docling_sample(registry: ParserRegistry) -> None:
    doc = registry.parse(shared_dataset("doc_parsing", "pptx", "powerpoint_sample.pptx"))
    check_spans(doc)
    table = blocks_of(doc, "table")[0]
    assert table.locator.slide == 1
    assert table.rows is not None
    assert table.rows[0] == ["", "Class1", "Class1", "Class1", "Class2", "Class2", "Class2"]
    assert table.rows[1][1:3] == ["A merged with B", "A merged with B"]
    assert [r[0] for r in table.rows[2:]] == ["R1", "R2", "R3", "R3", "R4", "R4", "R4"]  # vertical merges
    s2 = [b.text for b in doc.blocks if b.locator.slide == 2]
    assert s2 == [
        "Second slide title",
        "A rectangle shape with this text inside.",
        "Let’s introduce a list",
        "- With foo\n- Bar\n- And baz things",
        "Notes: Some notes on the second slide.",
    ]
    s3 = [b.text for b in doc.blocks if b.locator.slide == 3]
    assert "1. List item4\n2. List item5\n3. List item6" in s3
    assert s3.index("Some info:") + 1 == s3.index("- Item A\n- Item B")
    assert s3[-1] == "Notes: Final notes on the third slide.\nSecond line of notes."


def test_pptx_title_is_the_first_slides(registry: ParserRegistry, tmp_path: Path) -> None:
    # Formats trial: slide 1 made of text boxes (no title placeholder), so the whole deck was titled
    # after slide 2 ("Returns") and every chunk's context started with it.
    prs = Presentation()
    cover = prs.slides.add_slide(prs.slide_layouts[6])  # blank layout: no placeholders
    cover.shapes.add_textbox(Inches(1), Inches(1), Inches(8), Inches(1)).text_frame.text = "Fulfilment review Q2"
    second = prs.slides.add_slide(prs.slide_layouts[1])
    second.shapes.title.text = "Returns"
    second.placeholders[1].text_frame.text = "Returns fell to 2.1% in June."
    prs.save(str(tmp_path / "fulfilment.pptx"))
    assert registry.parse(tmp_path / "fulfilment.pptx").title == "Fulfilment review Q2"
    bare = Presentation()
    bare.slides.add_slide(bare.slide_layouts[6])
    later = bare.slides.add_slide(bare.slide_layouts[1])
    later.shapes.title.text = "Returns"
    later.placeholders[1].text_frame.text = "Returns fell to 2.1% in June."
    bare.save(str(tmp_path / "q2_deck.pptx"))
    assert registry.parse(tmp_path / "q2_deck.pptx").title == "q2_deck"  # nothing on slide 1: the file's name


def test_pptx_truncated(registry: ParserRegistry, tmp_path: Path) -> None:
    good = tmp_path / "deck.pptx"
    _deck(good)
    bad = tmp_path / "broken.pptx"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ParseError, match=r"broken\.pptx: .*(corrupt|truncated)"):
        registry.parse(bad)


def test_pptx_named_wrongly_is_sniffed(registry: ParserRegistry, tmp_path: Path) -> None:
    path = tmp_path / "slides.docx"
    _deck(path)
    doc = registry.parse(path)
    assert doc.metadata["format"] == "PPTX"
    assert any(b.locator.slide == 2 for b in doc.blocks)


# --- XLSX / XLSM --------------------------------------------------------------------------------------


def _workbook(path: Path) -> None:
    import datetime as dt

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Sales"
    ws["A1"] = "Sales by region, 2024"  # a title cell above the table: a paragraph, not a table
    header = ["Region", "Quarter", "Revenue", "Share", "Closed on"]
    ws.append([])
    ws.append(header)  # row 3
    ws.append(["North", "Q1", 1200.5, 0.125, dt.date(2024, 3, 31)])
    ws.append([None, "Q2", 1300, 0.25, dt.datetime(2024, 6, 30, 17, 45)])
    ws.append(["South", "Q1", 0.1 + 0.2, 0.5, dt.date(2024, 3, 31)])
    ws.merge_cells("A4:A5")  # "North" covers both of its quarters
    for row in ws.iter_rows(min_row=4, max_row=6, min_col=4, max_col=4):
        row[0].number_format = "0.0%"
    # A second table to the right, separated by an empty column.
    ws["H3"], ws["I3"] = "Manager", "Region"
    ws["H4"], ws["I4"] = "王伟", "North"
    hidden = wb.create_sheet("Internal")
    hidden.sheet_state = "hidden"
    hidden.append(["Key", "Value"])
    hidden.append(["budget", 5000])
    big = wb.create_sheet("Log")
    big.append(["id", "event"])
    for i in range(1, 451):
        big.append([i, f"event {i}"])
    wb.properties.title = "Regional sales"
    wb.save(str(path))


def test_xlsx_sheets_regions_locators(registry: ParserRegistry, tmp_path: Path) -> None:
    path = tmp_path / "sales.xlsx"
    _workbook(path)
    doc = registry.parse(path)
    check_spans(doc)
    assert doc.title == "Regional sales"
    assert doc.metadata["sheets"] == ["Sales", "Internal (hidden)", "Log"]
    # indexed, but said (formats trial: a hidden salary sheet became searchable without a word)
    assert any("1 hidden sheet(s) indexed and searchable: Internal" in w for w in doc.warnings)
    sales = [b for b in doc.blocks if b.locator.sheet == "Sales"]
    assert [b.kind for b in sales] == ["heading", "paragraph", "table", "table"]
    assert sales[0].text == "Sales" and sales[0].locator.heading_path == ["Sales"]
    assert sales[1].text == "Sales by region, 2024" and sales[1].locator.cell_range == "A1:A1"
    table = sales[2]
    assert table.locator.cell_range == "A3:E6"
    assert table.name == "Sales · region 2"
    assert table.rows == [
        ["Region", "Quarter", "Revenue", "Share", "Closed on"],
        ["North", "Q1", "1200.5", "12.5%", "2024-03-31"],
        ["North", "Q2", "1300", "25.0%", "2024-06-30 17:45:00"],  # merged cell repeated
        ["South", "Q1", "0.3", "50.0%", "2024-03-31"],  # no binary noise (0.30000000000000004)
    ]
    assert table.text.splitlines()[0] == "| Region | Quarter | Revenue | Share | Closed on |"
    managers = sales[3]
    assert managers.locator.cell_range == "H3:I4" and managers.rows == [["Manager", "Region"], ["王伟", "North"]]
    hidden = [b for b in doc.blocks if b.locator.sheet == "Internal"]
    assert hidden[0].text == "Internal (hidden)"
    assert hidden[1].rows == [["Key", "Value"], ["budget", "5000"]] and hidden[1].name == "Internal (hidden)"


def test_xlsx_big_sheet_split_with_header(registry: ParserRegistry, tmp_path: Path) -> None:
    from zhiku.parse.spreadsheet import MAX_TABLE_ROWS

    path = tmp_path / "sales.xlsm"  # macro-enabled name, same reader
    _workbook(path)
    doc = registry.parse(path)
    parts = [b for b in doc.blocks if b.locator.sheet == "Log" and b.kind == "table"]
    assert MAX_TABLE_ROWS == 200
    assert [b.locator.cell_range for b in parts] == ["A1:B201", "A202:B401", "A402:B451"]
    assert all(b.rows is not None and b.rows[0] == ["id", "event"] for b in parts)
    assert all(b.name == "Log" for b in parts)
    assert parts[1].rows is not None and parts[1].rows[1] == ["201", "event 201"]
    assert parts[2].rows is not None and parts[2].rows[-1] == ["450", "event 450"]
    # Chunks of a split table repeat the header and keep the sheet and range.
    chunks = [c for c in Chunker(max_tokens=120, overlap=20).chunk(doc) if c.locator.sheet == "Log"]
    assert len(chunks) > 3
    assert all(c.text.startswith("| id | event |") for c in chunks if c.kind == "table")
    # Each chunk's range is the rows it holds (all said A1:B201 before: useless for finding a row).
    tables = [c for c in chunks if c.kind == "table"]
    for chunk in tables:
        ids = [int(m.group(1)) for m in re.finditer(r"^\| (\d+) \|", chunk.text, re.MULTILINE)]
        assert chunk.locator.cell_range == f"A{ids[0] + 1}:B{ids[-1] + 1}", (chunk.locator.cell_range, ids[:3])
    assert tables[0].locator.cell_range.startswith("A2:")


def test_a_cited_spreadsheet_row_is_named_by_its_cells(tmp_path: Path) -> None:
    from zhiku.answer import Answerer
    from zhiku.text import Analyzer
    from zhiku.types import Hit, Locator

    text = (
        "| 日期 | 员工 | 目的地 | 金额（元） |\n| --- | --- | --- | --- |\n| 2024-05-06 | 张伟 | 深圳 | 3200 |\n"
        "| 2024-05-13 | 王芳 | 成都 | 2750 |\n| 2024-05-20 | 李娜 | 北京 | 4100 |"
    )
    hit = Hit(1, 1, 1.0, text, Locator(sheet="差旅明细", cell_range="A1:D4"), "budget.xlsx", "budget")
    answer = Answerer(Analyzer(tmp_path), refusal_threshold=0.0).answer("王芳去成都出差花了多少钱？", [hit])
    assert "王芳" in answer.text and answer.citations[0].locator.cell_range == "A3:D3", answer.text


def test_xlsx_cached_formula_values_and_charts(registry: ParserRegistry, tmp_path: Path) -> None:
    import xlsxwriter

    path = tmp_path / "budget.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Budget")
    ws.write_row(0, 0, ["Month", "Cost", "Double"])
    for i, (month, cost) in enumerate([("Jan", 10), ("Feb", 20), ("Mar", 30)], start=1):
        ws.write_row(i, 0, [month, cost])
        # The formula's cached result is what Excel shows; zhiku reads that, not the formula text.
        ws.write_formula(i, 2, f"=B{i + 1}*2", None, cost * 2)
    chart = wb.add_chart({"type": "column"})
    chart.add_series({"name": "=Budget!$B$1", "categories": "=Budget!$A$2:$A$4", "values": "=Budget!$B$2:$B$4"})
    chart.set_title({"name": "Monthly cost"})
    ws.insert_chart("E2", chart)
    wb.close()
    doc = registry.parse(path)
    table = next(b for b in doc.blocks if b.kind == "table")
    assert table.rows == [["Month", "Cost", "Double"], ["Jan", "10", "20"], ["Feb", "20", "40"], ["Mar", "30", "60"]]
    assert "=B2*2" not in doc.text
    assert doc.warnings == []  # every formula has its saved result
    caption = next(b for b in doc.blocks if b.text.startswith("Chart"))
    assert caption.text == "Chart (bar): Monthly cost" and caption.locator.sheet == "Budget"
    data = doc.blocks[doc.blocks.index(caption) + 1]
    assert data.kind == "table" and data.rows is not None
    assert data.rows[1:] == [["Jan", "10"], ["Feb", "20"], ["Mar", "30"]]
    assert data.rows[0][1] == "Cost"


def test_xlsx_formulas_without_saved_results_are_reported(registry: ParserRegistry, tmp_path: Path) -> None:
    # Written by a program that does not calculate: openpyxl stores no result, xlsxwriter stores 0.
    # zhiku does not calculate either; the cells read empty or 0, and the file says so on add.
    import openpyxl
    import xlsxwriter

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Item", "Q1", "Q2", "Total"])
    ws.append(["Rent", 100, 200, "=B2+C2"])
    ws.append(["Staff", 300, 400, "=B3+C3"])
    wb.save(tmp_path / "openpyxl.xlsx")
    doc = registry.parse(tmp_path / "openpyxl.xlsx")
    assert doc.warnings == [
        "2 of 2 formula cell(s) have no saved result and read as empty; "
        "open and save the file in Excel or LibreOffice to store their results"
    ]

    book = xlsxwriter.Workbook(str(tmp_path / "xlsxwriter.xlsx"))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["Item", "Q1", "Q2", "Total"])
    for row, (item, a, b) in enumerate([("Rent", 100, 200), ("Staff", 300, 400)], start=1):
        sheet.write_row(row, 0, [item, a, b])
        sheet.write_formula(row, 3, f"=B{row + 1}+C{row + 1}")  # no value given: 0 is stored
    book.close()
    doc = registry.parse(tmp_path / "xlsxwriter.xlsx")
    assert len(doc.warnings) == 1 and doc.warnings[0].startswith("all 2 formula results saved in the file are 0")


def test_xlsx_docling_sample(registry: ParserRegistry) -> None:
    doc = registry.parse(shared_dataset("doc_parsing", "xlsx", "xlsx_01.xlsx"))
    check_spans(doc)
    tables = {(b.locator.sheet, b.locator.cell_range): b.rows for b in doc.blocks if b.kind == "table"}
    assert ("Sheet2", "G5:I9") in tables and ("Sheet2", "C14:E18") in tables
    merged = tables[("Sheet3", "A1:C7")]
    assert merged is not None
    assert merged[0] == ["first", "header", "header"]  # B1:C1 merged
    assert merged[1] == ["first", "second", "third"]  # A1:A2 merged
    assert merged[-1] == ["10", "9", "9"]  # B6:C7 merged
    assert doc.metadata["sheets"][-1] == "Sheet4 (hidden)"


def test_xlsx_truncated(registry: ParserRegistry, tmp_path: Path) -> None:
    good = tmp_path / "sales.xlsx"
    _workbook(good)
    bad = tmp_path / "broken.xlsx"
    bad.write_bytes(good.read_bytes()[:3000])
    with pytest.raises(ParseError, match=r"broken\.xlsx: .*(corrupt|truncated)"):
        registry.parse(bad)


# --- CSV / TSV ----------------------------------------------------------------------------------------


def test_csv_utf8_bom_header_and_ranges(registry: ParserRegistry, tmp_path: Path) -> None:
    path = tmp_path / "staff.csv"
    lines = ["name,dept,note"] + [f'person {i},R&D,"likes tea, not coffee"' for i in range(1, 251)]
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode("utf-8"))
    doc = registry.parse(path)
    check_spans(doc)
    assert doc.metadata["delimiter"] == "," and doc.metadata["rows"] == 251
    tables = [b for b in doc.blocks if b.kind == "table"]
    assert [b.locator.cell_range for b in tables] == ["A1:C201", "A202:C251"]
    assert all(b.locator.sheet == "staff" for b in tables)
    assert tables[0].rows is not None and tables[0].rows[0] == ["name", "dept", "note"]
    assert tables[1].rows is not None and tables[1].rows[1] == ["person 201", "R&D", "likes tea, not coffee"]


def test_csv_gbk_semicolons_multiline_cells(registry: ParserRegistry, tmp_path: Path) -> None:
    path = tmp_path / "报销.csv"
    text = '项目;金额;说明\n差旅;1200;"北京出差，\n含住宿"\n餐费;300;团队聚餐\n办公用品;85;"打印纸; 墨盒"\n'
    path.write_bytes(text.encode("gbk"))
    doc = registry.parse(path)
    assert doc.metadata["delimiter"] == ";"
    table = doc.blocks[0]
    assert table.rows == [
        ["项目", "金额", "说明"],
        ["差旅", "1200", "北京出差， 含住宿"],
        ["餐费", "300", "团队聚餐"],
        ["办公用品", "85", "打印纸; 墨盒"],
    ]
    assert table.locator.cell_range == "A1:C4" and table.name == "报销"


def test_tsv(registry: ParserRegistry, tmp_path: Path) -> None:
    path = tmp_path / "scores.tsv"
    path.write_text("student\tscore, final\nAnn\t91, A\nBo\t78, C\n", encoding="utf-8")
    doc = registry.parse(path)
    assert doc.metadata["delimiter"] == "\t"
    assert doc.blocks[0].rows == [["student", "score, final"], ["Ann", "91, A"], ["Bo", "78, C"]]


def test_csv_binary_is_refused(registry: ParserRegistry, tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(ParseError, match=r"data\.csv: .*binary"):
        registry.parse(path)


# --- DOCX ---------------------------------------------------------------------------------------------

_FOOTNOTES_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<w:footnotes xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>'
    '<w:footnote w:type="continuationSeparator" w:id="0"><w:p><w:r><w:continuationSeparator/></w:r></w:p>'
    "</w:footnote>"
    '<w:footnote w:id="1"><w:p><w:r><w:t>Rates are set by the finance committee each January.</w:t></w:r></w:p>'
    "</w:footnote>"
    '<w:footnote w:id="2"><w:p><w:r><w:t>Only for trips longer than five days.</w:t></w:r></w:p></w:footnote>'
    "</w:footnotes>"
)


def _add_footnotes(path: Path) -> None:
    """python-docx cannot write footnotes: add the part, its relationship and content type by hand."""
    import zipfile

    with zipfile.ZipFile(path) as zin:
        parts = {name: zin.read(name) for name in zin.namelist()}
    rels = parts["word/_rels/document.xml.rels"].decode()
    rel = (
        '<Relationship Id="rIdFn1" Target="footnotes.xml" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/footnotes"/>'
    )
    parts["word/_rels/document.xml.rels"] = rels.replace("</Relationships>", rel + "</Relationships>").encode()
    types = parts["[Content_Types].xml"].decode()
    override = (
        '<Override PartName="/word/footnotes.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"/>'
    )
    parts["[Content_Types].xml"] = types.replace("</Types>", override + "</Types>").encode()
    parts["word/footnotes.xml"] = _FOOTNOTES_XML.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in parts.items():
            zout.writestr(name, data)


def _docx(path: Path) -> None:
    from docx import Document
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls, qn

    doc = Document()
    doc.add_heading("Travel policy", level=1)
    intro = doc.add_paragraph("Hotel rates follow the city table.")
    intro._p.append(parse_xml(f'<w:r {nsdecls("w")}><w:footnoteReference w:id="1"/></w:r>'))
    # A tracked insertion is part of the text; a tracked deletion is not.
    intro._p.append(
        parse_xml(f'<w:ins {nsdecls("w")} w:id="9" w:author="a"><w:r><w:t> Updated yearly.</w:t></w:r></w:ins>')
    )
    intro._p.append(
        parse_xml(f'<w:del {nsdecls("w")} w:id="10" w:author="a"><w:r><w:delText> Old text.</w:delText></w:r></w:del>')
    )
    doc.add_heading("Steps", level=2)
    for text, level in [
        ("Book through the portal", 0),
        ("Choose economy", 1),
        ("Keep receipts", 1),
        ("Submit the claim", 0),
    ]:
        p = doc.add_paragraph(text, style="List Number")
        p._p.get_or_add_pPr().get_or_add_numPr().get_or_add_ilvl().val = level
    doc.add_paragraph("Bring your badge", style="List Bullet")
    table = doc.add_table(rows=4, cols=3)
    values = [
        ["City", "Hotel", "Meals"],
        ["Beijing", "600", "150"],
        ["", "650 (peak)", "150"],
        ["Hangzhou", "450", "120"],
    ]
    for r, row in enumerate(values):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    table.cell(1, 0).merge(table.cell(2, 0))  # vertical merge: Beijing covers two rows
    table.cell(1, 0).text = "Beijing"
    # A row that starts late (gridBefore=1): its first cell belongs to the second column.
    late = table.rows[3]._tr
    late.remove(late.tc_lst[0])
    trpr = late.get_or_add_trPr()
    trpr.append(parse_xml(f'<w:gridBefore {nsdecls("w")} w:val="1"/>'))
    allowance = doc.add_paragraph("Per-diem allowances apply abroad.")
    allowance._p.append(parse_xml(f'<w:r {nsdecls("w")}><w:footnoteReference w:id="2"/></w:r>'))
    assert qn("w:footnoteReference")
    doc.save(str(path))
    _add_footnotes(path)


def test_docx_lists_tables_footnotes_order(registry: ParserRegistry, tmp_path: Path) -> None:
    path = tmp_path / "policy.docx"
    _docx(path)
    doc = registry.parse(path)
    check_spans(doc)
    got = [(b.kind, b.text) for b in doc.blocks]
    assert got[:3] == [
        ("heading", "Travel policy"),
        ("paragraph", "Hotel rates follow the city table. Updated yearly."),
        ("paragraph", "Footnote 1: Rates are set by the finance committee each January."),
    ]
    assert got[3] == ("heading", "Steps")
    lst = doc.blocks[4]
    assert lst.kind == "list"
    lines = lst.text.splitlines()
    assert lines[0] == "1. Book through the portal"
    assert [line.lstrip()[2:].strip() for line in lines[1:3]] == ["Choose economy", "Keep receipts"]
    assert lines[1].startswith("  ") and lines[2].startswith("  ")  # nested one level
    assert lines[3] == "2. Submit the claim"  # numbering continues after the nested items
    assert lines[4] == "- Bring your badge"
    table = doc.blocks[5]
    assert table.kind == "table" and table.locator.heading_path == ["Travel policy", "Steps"]
    assert table.rows == [
        ["City", "Hotel", "Meals"],
        ["Beijing", "600", "150"],
        ["Beijing", "650 (peak)", "150"],  # vertically merged value repeated
        ["", "450", "120"],  # gridBefore keeps the columns in place
    ]
    assert got[6:] == [
        ("paragraph", "Per-diem allowances apply abroad."),
        ("paragraph", "Footnote 2: Only for trips longer than five days."),
    ]
    assert "Old text" not in doc.text


def test_docx_headings_made_with_bold_text(registry: ParserRegistry, tmp_path: Path) -> None:
    # Formats trial: most Chinese office documents set their section titles as bold Normal
    # paragraphs; the document had no title, no heading path, and citations carried the bare path.
    from docx import Document
    from docx.shared import Pt

    d = Document()
    title = d.add_paragraph().add_run("办公用品采购管理制度")
    title.bold, title.font.size = True, Pt(18)
    for heading, body in (
        ("第一条 目的", "为规范办公用品采购，特制定本制度。"),
        ("第二条 采购权限", "2000元至2万元的须经行政总监审批。"),
    ):
        run = d.add_paragraph().add_run(heading)
        run.bold, run.font.size = True, Pt(14)
        d.add_paragraph(body)
    warning = d.add_paragraph().add_run("所有采购须保留发票。")  # bold, but a sentence
    warning.bold = True
    path = tmp_path / "采购管理制度.docx"
    d.save(str(path))
    doc = registry.parse(path)
    assert doc.title == "办公用品采购管理制度"
    assert [(b.kind, b.level, b.text) for b in doc.blocks if b.kind == "heading"] == [
        ("heading", 1, "办公用品采购管理制度"),
        ("heading", 2, "第一条 目的"),
        ("heading", 2, "第二条 采购权限"),
    ]
    body = next(b for b in doc.blocks if "行政总监" in b.text)
    assert body.locator.heading_path == ["办公用品采购管理制度", "第二条 采购权限"]
    assert doc.blocks[-1].kind == "paragraph"
    plain = Document()
    plain.add_paragraph("No headings at all.")
    plain.save(str(tmp_path / "memo.docx"))
    assert registry.parse(tmp_path / "memo.docx").title == "memo"  # the file's name, as other formats


def test_docx_table_of_contents_is_left_out(registry: ParserRegistry, tmp_path: Path) -> None:
    # Word writes a TOC as "toc N" paragraphs (Chinese Word: "目录 N"), usually inside a content
    # control whose gallery is "Table of Contents", with a "TOC Heading" paragraph on top. Its lines
    # repeat the headings with page numbers: nothing to answer from, noise for search.
    from docx import Document
    from docx.enum.style import WD_STYLE_TYPE
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    doc = Document()
    for name in ("toc 1", "toc 2", "目录 1"):
        doc.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    doc.add_paragraph("Employee handbook")
    doc.add_paragraph("Leave\t3", style="toc 1")
    doc.add_paragraph("Sick leave\t4", style="toc 2")
    doc.add_paragraph("出差\t5", style="目录 1")
    control = parse_xml(
        f"<w:sdt {nsdecls('w')}><w:sdtPr><w:docPartObj><w:docPartGallery w:val='Table of Contents'/>"
        "</w:docPartObj></w:sdtPr><w:sdtContent><w:p><w:r><w:t>Contents</w:t></w:r></w:p>"
        "<w:p><w:r><w:t>Travel 6</w:t></w:r></w:p></w:sdtContent></w:sdt>"
    )
    doc.element.body.insert(len(doc.element.body) - 1, control)  # before the section properties
    doc.add_heading("Leave", level=1)
    doc.add_paragraph("New hires get ten days of annual leave.")
    path = tmp_path / "handbook.docx"
    doc.save(str(path))
    parsed = registry.parse(path)
    assert [(b.kind, b.text) for b in parsed.blocks] == [
        ("paragraph", "Employee handbook"),
        ("heading", "Leave"),
        ("paragraph", "New hires get ten days of annual leave."),
    ]
    check_spans(parsed)


def test_docx_truncated(registry: ParserRegistry, tmp_path: Path) -> None:
    good = tmp_path / "policy.docx"
    _docx(good)
    bad = tmp_path / "broken.docx"
    bad.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(ParseError, match=r"broken\.docx: .*(corrupt|truncated)"):
        registry.parse(bad)


def _flood_regions(cells: set[tuple[int, int]]) -> list[tuple[int, int, int, int]]:
    """Reference: plain flood fill over cells, 4-connected."""
    seen: set[tuple[int, int]] = set()
    boxes = []
    for start in sorted(cells):
        if start in seen:
            continue
        stack, members = [start], []
        seen.add(start)
        while stack:
            r, c = stack.pop()
            members.append((r, c))
            for nxt in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
                if nxt in cells and nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        rows = [m[0] for m in members]
        cols = [m[1] for m in members]
        boxes.append((min(rows), min(cols), max(rows), max(cols)))
    return sorted(boxes)


def test_table_regions_match_flood_fill() -> None:
    import random

    from zhiku.parse.spreadsheet import regions

    # A "U": two columns joined only at the bottom are one table; a diagonal neighbour is not.
    u_shape = {(1, 1), (2, 1), (3, 1), (3, 2), (3, 3), (2, 3), (1, 3)}
    assert regions(u_shape) == [(1, 1, 3, 3)]
    assert regions({(1, 1), (2, 2)}) == [(1, 1, 1, 1), (2, 2, 2, 2)]
    rng = random.Random(7)
    for _ in range(200):
        density = rng.choice([0.2, 0.45, 0.6])
        cells = {(r, c) for r in range(1, 16) for c in range(1, 12) if rng.random() < density}
        assert regions(cells) == _flood_regions(cells)
