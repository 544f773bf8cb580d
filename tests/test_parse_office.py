"""PPTX, XLSX/XLSM, CSV/TSV parsers on real files written by python-pptx / openpyxl in the test, plus
the shared docling fixtures when present: structure, merged cells, locators, corrupt files."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import shared_dataset
from pptx import Presentation
from pptx.util import Inches, Pt

from zhiku.chunk import Chunker
from zhiku.errors import ParseError
from zhiku.parse import ParserRegistry
from zhiku.types import Block, ParsedDocument


@pytest.fixture(scope="module")
def registry() -> ParserRegistry:
    return ParserRegistry()


def check_spans(doc: ParsedDocument) -> None:
    for block in doc.blocks:
        assert doc.text[block.locator.char_start : block.locator.char_end] == block.text


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
