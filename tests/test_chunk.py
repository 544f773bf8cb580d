import pytest

from zhiku.chunk import Chunker, names_something
from zhiku.text import estimate_tokens
from zhiku.types import Block, Locator, ParsedDocument


def _doc() -> ParsedDocument:
    leave = ["Handbook", "Leave"]
    table = "| Type | Days |\n| --- | --- |\n" + "\n".join(f"| leave type {i} | {i} days of leave |" for i in range(80))
    return ParsedDocument.from_blocks(
        [
            Block("heading", "Handbook", 1, Locator(heading_path=["Handbook"])),
            Block("heading", "Leave", 2, Locator(heading_path=["Handbook", "Leave"])),
            Block("paragraph", "New hires get 10 days of annual leave. " * 40, 0, Locator(heading_path=leave)),
            Block("table", table, 0, Locator(heading_path=["Handbook", "Leave"])),
            Block("heading", "报销", 2, Locator(heading_path=["Handbook", "报销"])),
            Block("paragraph", "报销需在三十天内提交。" * 4, 0, Locator(heading_path=["Handbook", "报销"], page=3)),
        ],
        title="Handbook",
    )


def test_chunks_never_cross_headings_and_keep_their_outline() -> None:
    chunks = Chunker(100, 20).chunk(_doc())
    last = chunks[-1]
    assert last.text.startswith("报销") and "leave" not in last.text
    assert last.locator.heading_path == ["Handbook", "报销"] and last.locator.page == 3
    assert last.context == "Handbook > 报销"
    assert all("报销" not in c.text for c in chunks[:-1])


def test_chunks_are_bounded_and_slices_of_the_source() -> None:
    doc = _doc()
    chunks = Chunker(100, 20).chunk(doc)
    assert [c.ord for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert estimate_tokens(c.text) <= 100 + 15  # a repeated table header may add a little
        start, end = c.locator.char_start, c.locator.char_end
        assert start is not None and end is not None
        if c.kind == "text":
            assert doc.text[start:end] == c.text
        else:
            assert c.text.endswith(doc.text[start:end])


def test_long_paragraph_splits_at_sentences_with_overlap() -> None:
    chunks = [c for c in Chunker(100, 20).chunk(_doc()) if c.kind == "text" and "New hires" in c.text]
    assert len(chunks) >= 3
    for c in chunks[1:]:
        assert c.text.startswith("New hires")  # starts on a sentence boundary
    first, second = chunks[0], chunks[1]
    assert second.locator.char_start < first.locator.char_end  # overlap


def test_table_chunks_repeat_the_header_row() -> None:
    tables = [c for c in Chunker(100, 20).chunk(_doc()) if c.kind == "table"]
    assert len(tables) >= 3
    for c in tables:
        assert c.text.startswith("| Type | Days |\n| --- | --- |\n| leave type")
    rows = [line for c in tables for line in c.text.splitlines()[2:]]
    assert len(set(rows)) == 80  # every row kept, none lost at a split


def test_small_blocks_are_packed_together() -> None:
    blocks = [Block("paragraph", f"Short paragraph number {i}.") for i in range(10)]
    chunks = Chunker(300, 40).chunk(ParsedDocument.from_blocks(blocks))
    assert len(chunks) == 1 and "number 9" in chunks[0].text


def test_a_bare_title_joins_its_first_section() -> None:
    chunks = Chunker(300, 40).chunk(_doc())
    assert chunks[0].text.startswith("Handbook\n\nLeave")


def test_chinese_without_punctuation_is_hard_split() -> None:
    doc = ParsedDocument.from_blocks([Block("paragraph", "字" * 2000)])
    chunks = Chunker(300, 40).chunk(doc)
    assert len(chunks) >= 5 and all(estimate_tokens(c.text) <= 300 for c in chunks)
    assert "".join(c.text for c in chunks) == "字" * 2000


def test_chunk_locators_cover_every_block_they_pack(tmp_path) -> None:
    """A title cell above a table is cited with the table's range too (real XLSX through the parser);
    slides are never packed together; a transcript chunk names every speaker in it."""
    from openpyxl import Workbook

    from zhiku.chunk import union_ranges
    from zhiku.parse import ParserRegistry

    assert union_ranges(["A1:A1", "A3:E6"]) == "A1:E6"
    assert union_ranges(["B2", "AA10:AB12"]) == "B2:AB12"
    assert union_ranges(["rows 1-20"]) is None

    book = Workbook()
    sheet = book.active
    sheet.title = "Sales"
    sheet["A1"] = "Quarterly sales by region"
    for r, row in enumerate([["Region", "Q1", "Q2", "Q3", "Q4"], ["North", 10, 12, 9, 14], ["South", 7, 8, 11, 9]]):
        for c, value in enumerate(row):
            sheet.cell(row=3 + r, column=1 + c, value=value)
    path = tmp_path / "sales.xlsx"
    book.save(path)
    chunks = Chunker().chunk(ParserRegistry().parse(path))
    with_table = [c for c in chunks if "North" in c.text]
    assert with_table and with_table[0].locator.sheet == "Sales"
    assert with_table[0].locator.cell_range is not None
    assert with_table[0].locator.cell_range.endswith(":E5")

    slides = ParsedDocument.from_blocks(
        [Block("paragraph", f"Slide {n} says something short.", locator=Locator(slide=n)) for n in (1, 2, 3)]
    )
    assert [c.locator.slide for c in Chunker().chunk(slides)] == [1, 2, 3]

    talk = ParsedDocument.from_blocks(
        [
            Block("paragraph", "We ship on Friday.", locator=Locator(time_start=0.0, time_end=4.0, speaker="Li Wei")),
            Block("paragraph", "QA needs two days.", locator=Locator(time_start=4.0, time_end=9.5, speaker="Anna")),
        ]
    )
    (chunk,) = Chunker().chunk(talk)
    assert (chunk.locator.time_start, chunk.locator.time_end, chunk.locator.speaker) == (0.0, 9.5, "Li Wei, Anna")


@pytest.mark.parametrize(
    ("title", "kept"),
    [
        ("员工手册", True),
        ("Annual leave policy", True),
        ("vacation-policy", True),
        ("handbook_en", True),
        ("2023-annual-report", True),
        ("zh_refine_p00000", False),
        ("4983", False),
        ("scan0001", False),
        ("8f3a2c1d-77aa", False),
        ("IMG_2031", False),
        ("PXL_20231004_081500", False),
        ("Scan-12", False),
        ("doc_policy", True),
        ("photo-guidelines", True),
        ("", False),
    ],
)
def test_file_name_titles_that_name_nothing_stay_out_of_the_context(title: str, kept: bool) -> None:
    assert names_something(title) is kept
    doc = ParsedDocument.from_blocks([Block("paragraph", "印控克什米尔地区发生踩踏事故。")], title=title)
    chunk = Chunker(max_tokens=300, overlap=40).chunk(doc)[0]
    assert (title in chunk.context) is kept if title else chunk.context == ""
    assert chunk.index_text.endswith(chunk.text)


def test_a_chunk_over_two_pages_knows_where_each_part_is() -> None:
    blocks = [
        Block("paragraph", "Annual leave is ten days for new hires.", locator=Locator(page=3)),
        Block("paragraph", "Sick leave needs a doctor's note after two days.", locator=Locator(page=4)),
    ]
    doc = ParsedDocument.from_blocks(blocks, title="handbook")
    (chunk,) = Chunker().chunk(doc)
    assert chunk.locator.page == 3 and [(p[0], p[1]) for p in chunk.locator.parts] == [(0, 3), (41, 4)]
    sick = chunk.text.index("Sick")
    assert chunk.locator.narrowed(sick, sick + 10).page == 4
    assert chunk.locator.narrowed(0, 10).page == 3 and chunk.locator.narrowed(0, 10).parts == []
    assert chunk.locator.narrowed(0, len(chunk.text)).page == 3  # both parts: where it starts
    assert Locator.from_dict(chunk.locator.to_dict()) == chunk.locator  # parts survive the store's JSON
    one_page = ParsedDocument.from_blocks([Block("paragraph", "Just one page.", locator=Locator(page=2))], title="x")
    assert Chunker().chunk(one_page)[0].locator.parts == []
