"""Each format parser on real files: structure, heading paths, tables, encodings, pages."""

from __future__ import annotations

from pathlib import Path

import pytest
from docx import Document

from zhiku.demo import DEMO_DIR, EXAMPLE_QUESTIONS
from zhiku.parse import ParserRegistry
from zhiku.types import Block, ParsedDocument

FIXTURES = Path(__file__).parent / "fixtures"


def kinds(doc: ParsedDocument) -> list[str]:
    return [b.kind for b in doc.blocks]


def first(doc: ParsedDocument, kind: str) -> Block:
    return next(b for b in doc.blocks if b.kind == kind)


def check_spans(doc: ParsedDocument) -> None:
    for block in doc.blocks:
        assert block.locator.char_start is not None and block.locator.char_end is not None
        assert doc.text[block.locator.char_start : block.locator.char_end] == block.text


# --- text ---------------------------------------------------------------------------------------------

ZH = "年假怎么申请？\n新员工入职第一年享有十天带薪年假。\n\n报销须在三十天内提交。"


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [
        ("utf-8", b""),
        ("utf-8", b"\xef\xbb\xbf"),
        ("utf-16", b""),
        ("utf-16-le", b""),
        ("gbk", b""),
        ("gb18030", b""),
    ],
)
def test_text_encodings(registry: ParserRegistry, tmp_path: Path, encoding: str, prefix: bytes) -> None:
    path = tmp_path / "规定.txt"
    path.write_bytes(prefix + ZH.encode(encoding))
    doc = registry.parse(path)
    expected = ["年假怎么申请？\n新员工入职第一年享有十天带薪年假。", "报销须在三十天内提交。"]
    assert [b.text for b in doc.blocks] == expected
    assert doc.title == "规定"
    assert "\ufeff" not in doc.text
    check_spans(doc)


def test_big5_text(registry: ParserRegistry, tmp_path: Path) -> None:
    text = "員工手冊：新進員工第一年享有十天特休假，請於五個工作天前提出申請。" * 3
    path = tmp_path / "big5.txt"
    path.write_bytes(text.encode("big5"))
    assert registry.parse(path).text == text


def test_text_paragraphs_and_windows_newlines(registry: ParserRegistry, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"First   line\r\ncontinues.\r\n\r\n\r\nSecond paragraph.\r\n")
    doc = registry.parse(path)
    assert [b.text for b in doc.blocks] == ["First line\ncontinues.", "Second paragraph."]
    assert kinds(doc) == ["paragraph", "paragraph"]


# --- markdown -----------------------------------------------------------------------------------------

MARKDOWN = """---
title: ignored front matter
tags: [a, b]
---

Leave Policy
============

Intro paragraph with a [link](https://example.com)
that wraps.

## Annual leave ##

- New hires get 10 days.
- Carry over up to 5 days.
  Continuation line.

1. Step one
2. Step two

Types
-----

| Type | Days |
|:-----|-----:|
| Sick | 12 |
| Parental \\| paid | 30 |

```python
# not a heading
print("hi")
```

# Second top
Text under second.
"""


def test_markdown_footnotes_read_as_notes(registry: ParserRegistry, tmp_path: Path) -> None:
    # Formats trial: "[^1]" was kept raw in chunks and quoted in answers ("… in week 10.[^1]").
    path = tmp_path / "probation.md"
    path.write_text(
        "# Probation\n\nYour manager holds a review in week 10.[^1]\n\n[^1]: Engineering roles: week 12.\n",
        encoding="utf-8",
    )
    texts = [b.text for b in registry.parse(path).blocks]
    assert texts == ["Probation", "Your manager holds a review in week 10.", "Footnote 1: Engineering roles: week 12."]


def test_markdown_structure(registry: ParserRegistry, tmp_path: Path) -> None:
    path = tmp_path / "policy.md"
    path.write_text(MARKDOWN, encoding="utf-8")
    doc = registry.parse(path)
    assert "front matter" not in doc.text
    assert doc.title == "Leave Policy"
    headings = [(b.level, b.text, b.locator.heading_path) for b in doc.blocks if b.kind == "heading"]
    assert headings == [
        (1, "Leave Policy", ["Leave Policy"]),
        (2, "Annual leave", ["Leave Policy", "Annual leave"]),
        (2, "Types", ["Leave Policy", "Types"]),
        (1, "Second top", ["Second top"]),
    ]
    assert doc.blocks[1].text == "Intro paragraph with a link that wraps."
    lists = [b for b in doc.blocks if b.kind == "list"]
    assert lists[0].text.splitlines()[0] == "- New hires get 10 days."
    assert "Continuation line." in lists[0].text
    assert lists[0].locator.heading_path == ["Leave Policy", "Annual leave"]
    table = first(doc, "table")
    assert table.rows == [["Type", "Days"], ["Sick", "12"], ["Parental | paid", "30"]]
    assert table.text.splitlines()[:2] == ["| Type | Days |", "| --- | --- |"]
    assert table.locator.heading_path == ["Leave Policy", "Types"]
    code = first(doc, "code")
    assert code.text == '# not a heading\nprint("hi")'
    assert doc.blocks[-1].text == "Text under second."
    assert doc.blocks[-1].locator.heading_path == ["Second top"]
    check_spans(doc)


# --- html ---------------------------------------------------------------------------------------------

HTML = """<html><head><title>Benefits page</title><style>p{}</style></head><body>
<header><h1>Site header</h1></header><nav><a>Home</a> <a>About</a></nav>
<main>
  <h1>Benefits</h1>
  <p>Lunch allowance is <b>600 yuan</b>
     per month.</p>
  <h2>Lists</h2>
  <ul><li>One<ul><li>Nested</li></ul></li><li>Two</li></ul>
  <ol><li>First</li><li>Second</li></ol>
  <h2>Table</h2>
  <table>
    <tr><th>City</th><th colspan="2">Limits</th></tr>
    <tr><td rowspan="2">Shanghai</td><td>600</td><td>150</td></tr>
    <tr><td>700</td><td>160</td></tr>
  </table>
  <div>Loose text<br>on two lines</div>
  <script>alert("x")</script>
  <form><input value="search"></form>
</main>
<aside>Ads</aside><footer>Copyright</footer>
</body></html>"""


def test_html_structure(registry: ParserRegistry, tmp_path: Path) -> None:
    path = tmp_path / "benefits.html"
    path.write_text(HTML, encoding="utf-8")
    doc = registry.parse(path)
    assert doc.title == "Benefits page"
    for junk in ("Site header", "Home", "alert", "Ads", "Copyright", "search"):
        assert junk not in doc.text
    assert doc.blocks[0].kind == "heading" and doc.blocks[0].text == "Benefits"
    assert doc.blocks[1].text == "Lunch allowance is 600 yuan per month."
    assert doc.blocks[1].locator.heading_path == ["Benefits"]
    lists = [b.text for b in doc.blocks if b.kind == "list"]
    assert lists == ["- One\n  - Nested\n- Two", "1. First\n2. Second"]
    table = first(doc, "table")
    assert table.rows == [
        ["City", "Limits", "Limits"],
        ["Shanghai", "600", "150"],
        ["Shanghai", "700", "160"],
    ]
    assert table.locator.heading_path == ["Benefits", "Table"]
    assert "Loose text\non two lines" in doc.text
    check_spans(doc)


WIKI_LIKE = """<!DOCTYPE html><html class="vector-toc-available"><head><title>Duck - Wiki</title>
<style>.x{color:red}</style></head><body>
<a class="mw-jump-link" href="#content">Jump to content</a>
<div role="navigation" id="p-lang"><ul><li><a>Deutsch</a></li><li><a>中文</a></li></ul></div>
<div class="vector-main-menu">Main menu Donate</div>
<p>Outside the main element: site notice.</p>
<main id="content">
  <h1>Duck</h1>
  <div class="hatnote">This article is about the bird.</div>
  <div id="toc" class="toc"><ul><li>1 Etymology</li><li>2 Taxonomy</li></ul></div>
  <p>Ducks are <b>waterfowl</b>.<span style="display:none">hidden tracking text</span></p>
  <h2>Etymology<span class="mw-editsection">[edit]</span></h2>
  <p>The word comes from Old English.</p>
  <div class="navbox"><table><tr><td>Related birds navigation</td></tr></table></div>
  <div class="sidebar">Part of a series on birds</div>
  <span aria-hidden="true">decorative</span>
  <ul><li>Mallard <style>.mw-parser-output .citation{word-wrap:break-word}</style>is common</li></ul>
  <table>
    <tr><th rowspan="2">Species</th><th colspan="2">Size (cm)</th></tr>
    <tr><th>min</th><th>max</th></tr>
    <tr><td>Mallard</td><td>50</td><td>65</td></tr>
  </table>
</main>
<div id="catlinks" class="catlinks">Categories: Ducks</div>
</body></html>"""


def test_html_boilerplate_and_main_content(registry: ParserRegistry, tmp_path: Path) -> None:
    path = tmp_path / "duck.html"
    path.write_text(WIKI_LIKE, encoding="utf-8")
    doc = registry.parse(path)
    check_spans(doc)
    for junk in (
        "Jump to content",
        "Deutsch",
        "Main menu",
        "site notice",
        "1 Etymology",
        "hidden tracking",
        "[edit]",
        "Related birds",
        "Part of a series",
        "decorative",
        "word-wrap",
        "Categories",
        "color:red",
    ):
        assert junk not in doc.text, junk
    assert [(b.kind, b.text) for b in doc.blocks[:3]] == [
        ("heading", "Duck"),
        ("paragraph", "This article is about the bird."),
        ("paragraph", "Ducks are waterfowl."),  # inline markup adds no space
    ]
    heading = next(b for b in doc.blocks if b.text == "Etymology")
    assert heading.kind == "heading" and heading.locator.heading_path == ["Duck", "Etymology"]
    assert "- Mallard is common" in doc.text
    table = first(doc, "table")
    assert table.rows == [
        ["Species", "Size (cm)", "Size (cm)"],
        ["Species", "min", "max"],
        ["Mallard", "50", "65"],
    ]
    assert table.locator.heading_path == ["Duck", "Etymology"]


def test_html_teaser_articles_do_not_hide_the_page(registry: ParserRegistry, tmp_path: Path) -> None:
    # One short <article> teaser on a long page is not "the content": the body is read.
    body = "".join(f"<p>Paragraph {i} of the real page text about travel rules.</p>" for i in range(20))
    path = tmp_path / "index.html"
    path.write_text(f"<html><body><article><p>Teaser card</p></article>{body}</body></html>", encoding="utf-8")
    doc = registry.parse(path)
    assert "Paragraph 19 of the real page text" in doc.text and "Teaser card" in doc.text


def test_html_gbk_meta_charset(registry: ParserRegistry, tmp_path: Path) -> None:
    path = tmp_path / "gbk.html"
    path.write_bytes(
        '<html><head><meta charset="gbk"><title>通知</title></head><body><p>办公时间为上午十点。</p>'
        "</body></html>".encode("gbk")
    )
    doc = registry.parse(path)
    assert doc.title == "通知" and doc.text == "办公时间为上午十点。"


# --- pdf ----------------------------------------------------------------------------------------------


def test_pdf_pages_headings_and_cleanup(registry: ParserRegistry) -> None:
    doc = registry.parse(FIXTURES / "multipage_zh_en.pdf")
    assert doc.metadata["pages"] == 3
    assert {b.locator.page for b in doc.blocks} == {1, 2, 3}
    assert "New hires at Lanting Tech get 10 days of paid annual leave in their first year." in doc.text
    zh = [b for b in doc.blocks if b.locator.page == 2]
    assert any("员工应在费用发生后三十天内提交报销单" in b.text for b in zh)
    # Running header and footer repeat on every page: dropped.
    assert "Internal" not in doc.text and "Confidential" not in doc.text
    # "infor-" + line break + "mation" is one word again.
    assert "customer information and must" in doc.text
    heading = next(b for b in doc.blocks if b.kind == "heading" and b.locator.page == 2)
    assert heading.text == "第二章 报销流程"
    body = next(b for b in zh if b.kind == "paragraph")
    assert body.locator.heading_path == ["第二章 报销流程"]
    check_spans(doc)


# --- docx ---------------------------------------------------------------------------------------------


def make_docx(path: Path) -> Path:
    doc = Document()
    doc.core_properties.title = "Travel rules"
    doc.add_heading("Travel rules", level=0)
    doc.add_paragraph("Applies to all staff.")
    doc.add_heading("Hotels", level=1)
    table = doc.add_table(rows=3, cols=3)
    for r, row in enumerate([["City", "Hotel", "Meals"], ["Beijing", "600", "150"], ["Hangzhou", "450", "120"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    merged = table.cell(0, 1).merge(table.cell(0, 2))
    merged.text = "Limits"
    doc.add_paragraph("Paragraph after the table.")
    doc.add_heading("Booking", level=2)
    doc.add_paragraph("Use the portal", style="List Bullet")
    doc.add_paragraph("Keep receipts", style="List Bullet 2")
    doc.add_paragraph("Numbered step", style="List Number")
    doc.add_paragraph("Final words.")
    doc.save(str(path))
    return path


def test_docx_structure(registry: ParserRegistry, tmp_path: Path) -> None:
    doc = registry.parse(make_docx(tmp_path / "travel.docx"))
    assert doc.title == "Travel rules"
    assert kinds(doc) == [
        "heading",
        "paragraph",
        "heading",
        "table",
        "paragraph",
        "heading",
        "list",
        "paragraph",
    ]
    table = first(doc, "table")
    assert table.rows is not None
    assert table.rows[0] == ["City", "Limits", "Limits"]  # merged cell repeated in each slot it covers
    assert table.rows[1] == ["Beijing", "600", "150"]
    assert table.locator.heading_path == ["Hotels"]
    assert doc.blocks[4].text == "Paragraph after the table."  # body order kept
    lst = first(doc, "list")
    assert lst.text == "- Use the portal\n  - Keep receipts\n1. Numbered step"
    assert lst.locator.heading_path == ["Hotels", "Booking"]
    assert doc.blocks[-1].locator.heading_path == ["Hotels", "Booking"]
    check_spans(doc)


# --- demo corpus --------------------------------------------------------------------------------------


def test_demo_corpus_parses_and_answers_are_in_it(registry: ParserRegistry) -> None:
    files = [p for p in sorted(DEMO_DIR.iterdir()) if registry.supports(p)]
    suffixes = {p.suffix for p in files}
    assert {".md", ".html", ".docx"} <= suffixes
    corpus = ""
    for path in files:
        assert 500 < path.stat().st_size < 60_000
        doc = registry.parse(path)
        assert doc.title
        corpus += doc.text + "\n"
    assert any(b.kind == "table" for p in files for b in registry.parse(p).blocks)
    assert len(EXAMPLE_QUESTIONS) >= 6
    assert any(not q.isascii() for q, _ in EXAMPLE_QUESTIONS) and any(q.isascii() for q, _ in EXAMPLE_QUESTIONS)
    for question, expected in EXAMPLE_QUESTIONS:
        assert expected in corpus, question
    assert "Lanting Hub · Intranet" not in corpus  # it_faq.html's navigation is stripped
