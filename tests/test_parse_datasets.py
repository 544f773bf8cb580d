"""Parsers on the shared real-world fixtures (docling / pdfplumber / MinerU test documents)."""

from __future__ import annotations

from pathlib import Path

import pytest

from zhiku.errors import ParseError
from zhiku.parse import ParserRegistry

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
DOC_PARSING = DATASETS / "doc_parsing"


def _files() -> list[Path]:
    if not DOC_PARSING.is_dir():
        return []
    return sorted(p for sub in ("pdf", "docx", "html") for p in (DOC_PARSING / sub).glob("*.*"))


@pytest.fixture(scope="module")
def registry() -> ParserRegistry:
    if not DOC_PARSING.is_dir():
        pytest.skip("../shared/datasets not present")
    return ParserRegistry()


@pytest.mark.parametrize("path", _files() or [Path("missing")], ids=lambda p: p.name)
def test_real_document_parses(registry: ParserRegistry, path: Path) -> None:
    try:
        doc = registry.parse(path)
    except ParseError as exc:  # pragma: no cover - shown on failure
        pytest.fail(f"{path.name}: {exc}")
    assert len(doc.text) > 100
    assert doc.blocks
    for block in doc.blocks:
        assert doc.text[block.locator.char_start : block.locator.char_end] == block.text
    if path.suffix == ".pdf":
        pages = doc.metadata["pages"]
        assert all(b.locator.page is not None and 1 <= b.locator.page <= pages for b in doc.blocks)


def test_pdf_multipage_chinese_report(registry: ParserRegistry) -> None:
    doc = registry.parse(DOC_PARSING / "pdf" / "issue-67-example.pdf")
    assert doc.metadata["pages"] == 22
    assert "东北电气发展股份有限公司" in doc.text
    assert "公司董事会、监事会及董事、监事、高级管理人员保证季度报告内容的真实" in doc.text  # lines rejoined
    # The PDF draws a gap between 第一节 and 重要提示; pdfium reports it as a space.
    assert any(b.kind == "heading" and b.text.replace(" ", "") == "第一节重要提示" for b in doc.blocks)
    # The running page header repeats on every page: dropped everywhere but where it is the title.
    header_pages = {b.locator.page for b in doc.blocks if "年第一季度报告全文" in b.text}
    assert len(header_pages) <= 1
    # The balance sheet runs over pages 9-11 (its continuations print no header): one structured
    # table, from its first item to its grand total.
    from zhiku.ingest import extract_tables

    tables = extract_tables(doc)
    sheet = next(t for t in tables if t.locator.page == 9)
    assert sheet.columns == ["项目", "期末余额", "期初余额"]
    items = [row[0].replace(" ", "") for row in sheet.rows]
    assert items[0] == "流动资产：" and items[-1] == "负债和所有者权益总计" and "非流动资产合计" in items
    assert len(tables) < len([b for b in doc.blocks if b.kind == "table"])


def test_pdf_federal_register_drops_running_header(registry: ParserRegistry) -> None:
    doc = registry.parse(DOC_PARSING / "pdf" / "federal-register-2020-17221.pdf")
    assert doc.metadata["pages"] == 15
    assert sum("Thursday, August 6, 2020 / Proposed Rules" in b.text for b in doc.blocks) <= 1
    assert "Airworthiness Directives; The Boeing Company Airplanes" in doc.text


def test_docx_tables_with_merged_cells(registry: ParserRegistry) -> None:
    doc = registry.parse(DOC_PARSING / "docx" / "word_tables.docx")
    tables = [b for b in doc.blocks if b.kind == "table"]
    assert len(tables) >= 5
    assert tables[0].rows is not None and tables[0].rows[0] == ["Header 0.0", "Header 0.1", "Header 0.2"]
    assert tables[1].rows is not None
    assert tables[1].rows[1] == ["Cell 1.0", "Merged Cell 1.1 1.2", "Merged Cell 1.1 1.2"]


def test_docx_sample_structure(registry: ParserRegistry) -> None:
    doc = registry.parse(DOC_PARSING / "docx" / "word_sample.docx")
    assert any(b.kind == "list" and "Paddle about" in b.text for b in doc.blocks)
    table = next(b for b in doc.blocks if b.kind == "table")
    assert table.locator.heading_path[-1] == "Let’s eat"
    assert table.rows is not None and ["Berries", "Blueberry, Strawberry, Cranberry", "150"] in table.rows


def test_docx_chinese_bilingual(registry: ParserRegistry) -> None:
    doc = registry.parse(DOC_PARSING / "docx" / "docx_01.docx")
    assert "MinerU" in doc.text
    assert any(b.kind == "heading" for b in doc.blocks)


def test_html_wikipedia_strips_boilerplate(registry: ParserRegistry) -> None:
    doc = registry.parse(DOC_PARSING / "html" / "wiki_duck.html")
    assert doc.title.startswith("Duck")
    assert any(b.kind == "heading" and b.text == "Etymology" for b in doc.blocks)
    assert "Jump to content" not in doc.text
    assert any(b.kind == "table" for b in doc.blocks)


def test_html_nested_tables(registry: ParserRegistry) -> None:
    doc = registry.parse(DOC_PARSING / "html" / "table_06.html")
    table = next(b for b in doc.blocks if b.kind == "table")
    assert table.rows is not None and table.rows[0] == ["A", "B"] and table.rows[1][1] == "2..."
    assert doc.blocks[-1].text == "After table"
