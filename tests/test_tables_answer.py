"""Tables end to end: title and note rows split off by the parsers, rows as evidence units, and
extractive answers that read a row out with its column names (zhiku/parse/base.py, zhiku/text.py,
zhiku/chunk.py, zhiku/answer.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import check_spans
from zhiku.answer import Answerer
from zhiku.chunk import Chunker
from zhiku.parse import ParserRegistry
from zhiku.parse.base import split_note_rows, split_table, split_title_row, table_text
from zhiku.tabletext import (
    are_column_names,
    column_names,
    has_separator,
    is_amount,
    is_header_row,
    is_separator,
    is_table_row,
    read_column,
    read_row,
    readable,
    table_cells,
    table_header,
    table_title,
)
from zhiku.text import Analyzer, sentence_spans, snippet, split_sentences
from zhiku.types import Block, Hit, Locator, ParsedDocument

LEAVE = (
    "Types of leave\n\n"
    "| Leave type | Days per year | Paid | Needs a document |\n"
    "| --- | --- | --- | --- |\n"
    "| Annual leave | 10 to 20 | Yes | No |\n"
    "| Sick leave | 12 | Yes | Doctor's note after 2 consecutive days |\n"
    "| Marriage leave | 3 | Yes | Marriage certificate |\n"
    "| Parental leave | 30 | Yes | Birth certificate |\n"
    "| Volunteer day | 1 | Yes | No |"
)
TRAVEL = (
    "住宿和餐补标准如下（每人每天）：\n\n"
    "| 城市类别 | 城市举例 | 住宿上限（元/晚） | 餐补（元/天） |\n"
    "| --- | --- | --- | --- |\n"
    "| 一线城市 | 北京、上海、深圳 | 600 | 150 |\n"
    "| 二线城市 | 杭州、成都、南京 | 450 | 120 |\n"
    "| 其他城市 | 其他 | 350 | 100 |"
)


@pytest.fixture(scope="module")
def answerer() -> Answerer:
    return Answerer(Analyzer(), refusal_threshold=0.3)


def hits(*texts: str) -> list[Hit]:
    return [Hit(i + 10, i, 1.0 - 0.1 * i, t, Locator(), path=f"doc{i}.md") for i, t in enumerate(texts)]


# -- parsers: title rows and note rows ------------------------------------------------------------


def test_title_row_is_split_off_only_when_it_is_one_text_over_a_wide_table() -> None:
    rows = [["Budget 2024", "", ""], ["Dept", "Q1", "Q2"], ["R&D", "10", "12"]]
    assert split_title_row(rows) == ("Budget 2024", rows[1:])
    merged = [["预算表", "预算表", "预算表"], ["部门", "一季度", "二季度"], ["研发", "10", "12"]]
    assert split_title_row(merged) == ("预算表", merged[1:])  # a merged cell repeats its text
    kept = [
        [["Name", "", "Notes"], ["a", "b", "c"], ["d", "e", "f"]],  # two header texts: a header
        [["Name", ""], ["a", "b"], ["c", "d"]],  # two columns: too narrow to tell
        [["Title", "", ""], ["a", "", ""], ["b", "c", "d"]],  # the next row is no header either
        [["Title", "", ""], ["a", "b", "c"]],  # nothing would be left below a header
    ]
    for rows in kept:
        assert split_title_row(rows) == ("", rows)


def test_note_rows_are_split_off_the_bottom() -> None:
    note = "Figures are in millions of yuan, rounded to the nearest million and not yet audited."
    rows = [["Dept", "Q1", "Q2"], ["R&D", "10", "12"], ["Sales", "8", "9"], ["Note:", note, ""]]
    assert split_note_rows(rows) == (rows[:3], [f"Note: {note}"])
    short = [["Dept", "Q1", "Q2"], ["R&D", "10", "12"], ["Total", "18", ""]]
    assert split_note_rows(short) == (short, [])  # a last row of data
    explained = [
        ["股东", "持股", "比例"],
        ["甲", "100", "1%"],
        ["上述股东关联关系的说明", "就本公司知晓的范围内，不存在关联关系。", ""],
    ]
    assert split_note_rows(explained) == (explained, [])  # a label and its long value: data
    assert split_note_rows([*short, ["注：", "单位为万元", ""]]) == (short, ["注： 单位为万元"])
    title, body, notes = split_table([["Budget", "", ""], *rows])
    assert (title, body, notes) == ("Budget", rows[:3], [f"Note: {note}"])
    assert table_text(body, title).startswith("Budget\n\n| Dept | Q1 | Q2 |\n| --- | --- | --- |\n")


def test_html_table_title_and_note_rows(tmp_path: Path) -> None:
    path = tmp_path / "budget.html"
    path.write_text(
        "<html><body><h1>Budget</h1><table>"
        "<tr><td colspan='3'>Department budget 2024</td></tr>"
        "<tr><th>Dept</th><th>Q1</th><th>Q2</th></tr>"
        "<tr><td>R&amp;D</td><td>10</td><td>12</td></tr>"
        "<tr><td>Sales</td><td>8</td><td>9</td></tr>"
        "<tr><td colspan='3'>Note: figures are in millions of yuan, rounded, unaudited.</td></tr>"
        "</table></body></html>",
        encoding="utf-8",
    )
    doc = ParserRegistry().parse(path)
    check_spans(doc)
    table = next(b for b in doc.blocks if b.kind == "table")
    assert table.name == "Department budget 2024"
    assert table.rows == [["Dept", "Q1", "Q2"], ["R&D", "10", "12"], ["Sales", "8", "9"]]
    assert table.text.startswith("Department budget 2024\n\n| Dept | Q1 | Q2 |")
    after = doc.blocks[doc.blocks.index(table) + 1]
    assert after.kind == "paragraph" and after.text.startswith("Note: figures are in millions")


def test_docx_merged_title_row(tmp_path: Path) -> None:
    from docx import Document

    document = Document()
    document.add_heading("财务", level=1)
    table = document.add_table(rows=4, cols=3)
    values = [["", "", ""], ["部门", "一季度", "二季度"], ["研发部", "10", "12"], ["销售部", "8", "9"]]
    for r, row in enumerate(values):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    table.cell(0, 0).merge(table.cell(0, 2))
    table.cell(0, 0).text = "2024年部门预算表"
    path = tmp_path / "budget.docx"
    document.save(str(path))
    doc = ParserRegistry().parse(path)
    block = next(b for b in doc.blocks if b.kind == "table")
    assert block.name == "2024年部门预算表"
    assert block.rows == values[1:]


def test_long_titled_table_chunks_repeat_title_and_header() -> None:
    rows = [["Type", "Days"], *([f"leave type {i}", f"{i} days"] for i in range(80))]
    text = table_text(rows, "Leave days by type")
    doc = ParsedDocument.from_blocks([Block("table", text, rows=rows, name="Leave days by type")], title="")
    chunks = Chunker(100, 20).chunk(doc)
    assert len(chunks) >= 3
    for chunk in chunks:
        assert chunk.text.startswith("Leave days by type\n\n| Type | Days |\n| --- | --- |\n| leave type")
    body = [line for c in chunks for line in c.text.splitlines()[4:]]
    assert len(set(body)) == 80  # every row once, none lost at a split


# -- rows as sentences --------------------------------------------------------------------------------


def test_table_rows_are_whole_sentences_and_separators_none() -> None:
    text = "Intro line. Second one.\n\nTitle\n\n| a | b. c |\n| --- | --- |\n| 1 | x. y |\n\nAfter. End."
    assert split_sentences(text) == [
        "Intro line.",
        "Second one.",
        "Title",
        "| a | b. c |",
        "| 1 | x. y |",
        "After.",
        "End.",
    ]
    for start, end in sentence_spans(text):
        assert text[start:end] == text[start:end].strip()
    assert split_sentences("Plain. Text! 你好。再见") == ["Plain.", "Text!", "你好。", "再见"]


def test_table_cells_header_and_readable() -> None:
    assert table_cells("| a | b \\| c |  |") == ["a", "b | c", ""]
    row = LEAVE.index("| Sick leave")
    assert table_header(LEAVE, row) == "| Leave type | Days per year | Paid | Needs a document |"
    assert table_header(LEAVE, LEAVE.index("| Leave type")) == ""  # the header itself
    assert table_header("no table here", 3) == ""
    shown = readable("| Title |  |  |\n| --- | --- | --- |\n| a |  | b |")
    assert shown == "| Title |\n| a | b |"
    assert readable("plain text | with a pipe") == "plain text | with a pipe"


# -- answers ----------------------------------------------------------------------------------------


def test_a_table_answer_reads_the_asked_row_with_its_column_names(answerer: Answerer) -> None:
    answer = answerer.answer("How many days of sick leave do I get?", hits(LEAVE))
    assert not answer.refused
    assert answer.text == (
        "Leave type: Sick leave; Days per year: 12; Paid: Yes; "
        "Needs a document: Doctor's note after 2 consecutive days [1]"
    )
    assert answer.grounding == 1.0 and answer.sentences[0].citations == [1]
    assert "---" not in answer.citations[0].snippet


def test_only_the_row_the_question_names(answerer: Answerer) -> None:
    # "leave" is in every row; "parental" names one: the rows that only share "leave" stay out.
    answer = answerer.answer("How many days of parental leave?", hits(LEAVE))
    assert answer.text.startswith("Leave type: Parental leave; Days per year: 30")
    assert answer.text.count("Leave type:") == 1


def test_the_row_the_question_names_beats_a_total_row(answerer: Answerer) -> None:
    # Formats trial: every "total for X" question over a budget sheet got the Grand total row (2917),
    # which holds "total" as the question does, while the Marketing row, naming only "Marketing", had
    # no candidate answer and lost.
    budget = (
        "Summary\n\n| Department | Q1 | Q2 | Q3 | Q4 | Total |\n| --- | --- | --- | --- | --- | --- |\n"
        "| Marketing | 120 | 135 | 150 | 160 | 565 |\n| R&D | 300 | 310 | 290 | 330 | 1230 |\n"
        "| Sales | 210 | 220 | 240 | 260 | 930 |\n| HR | 45 | 45 | 50 | 52 | 192 |\n"
        "| Grand total |  |  |  |  | 2917 |"
    )
    for question, department, total in (
        ("What is the total budget for Marketing?", "Marketing", "565"),
        ("What is the total for HR?", "HR", "192"),
        ("What is the total budget for R&D?", "R&D", "1230"),
    ):
        answer = answerer.answer(question, hits(budget))
        assert answer.text.startswith(f"Department: {department};") and f"Total: {total}" in answer.text, answer.text
    assert answerer.answer("What is the grand total?", hits(budget)).text.startswith("Department: Grand total")


def test_chinese_table_answer(answerer: Answerer) -> None:
    answer = answerer.answer("在上海出差住宿标准是多少？", hits(TRAVEL))
    expected = "城市类别：一线城市；城市举例：北京、上海、深圳；住宿上限（元/晚）：600；餐补（元/天）：150 [1]"
    assert answer.text == expected
    second = answerer.answer("二线城市的餐补是多少？", hits(TRAVEL))
    assert second.text.startswith("城市类别：二线城市") and "餐补（元/天）：120" in second.text


def test_a_table_title_or_header_is_not_the_answer(answerer: Answerer) -> None:
    # The title holds the question's words but no answer; the header holds column names only.
    table = (
        "Firearm background checks November 2015\n\n| State | Permit | Handgun | Totals |\n"
        "| --- | --- | --- | --- |\n| Texas | 21,550 | 56,941 | 146,982 |\n| Utah | 10,429 | 4,314 | 21,772 |"
    )
    answer = answerer.answer("How many firearm background checks were there in Texas in November 2015?", hits(table))
    assert answer.text == "State: Texas; Permit: 21,550; Handgun: 56,941; Totals: 146,982 [1]"


def test_xlsx_title_row_above_its_table(tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Budget"
    ws.append(["部门预算表（万元）"])
    ws.merge_cells("A1:C1")
    ws.append(["部门", "一季度", "二季度"])
    ws.append(["研发部", 10, 12])
    ws.append(["销售部", 8, 9])
    path = tmp_path / "budget.xlsx"
    wb.save(str(path))
    doc = ParserRegistry().parse(path)
    table = next(b for b in doc.blocks if b.kind == "table")
    assert table.rows == [["部门", "一季度", "二季度"], ["研发部", "10", "12"], ["销售部", "8", "9"]]
    assert table.name.endswith("部门预算表（万元）")
    assert table.text.startswith("部门预算表（万元）\n\n| 部门 | 一季度 | 二季度 |")
    assert table.locator.cell_range == "A1:C4"  # the title row is part of the cited range


def test_a_first_row_of_data_is_no_header(answerer: Answerer) -> None:
    # A statement continued from the page before: its first row is a line item, not column names.
    assert not are_column_names(["永续债", "", ""])
    assert not are_column_names(["报告期末普通股股东总数", "79,053", "优先股股东总数", "0"])
    assert are_column_names(["项目", "期末余额", "上年年末余额"])
    statement = (
        "| 一般风险准备 |  |  |\n| --- | --- | --- |\n"
        "| 未分配利润 | -2,038,791,290.11 | -2,034,142,303.59 |\n"
        "| 少数股东权益 | 3,808,480.86 | 3,990,824.31 |"
    )
    row = statement.index("| 未分配利润")
    assert column_names(statement, row) == []
    answer = answerer.answer("未分配利润期末余额是多少？", hits(statement))
    assert answer.text == "未分配利润；-2,038,791,290.11；-2,034,142,303.59 [1]"
    # and a first row of data can be the answer itself
    totals = (
        "| 报告期末普通股股东总数 | 79,053 | 优先股股东总数 | 0 |\n| --- | --- | --- | --- |\n"
        "| 股东名称 | 股东性质 | 持股比例 | 持股数量 |"
    )
    assert answerer.answer("报告期末普通股股东总数是多少？", hits(totals)).text.startswith(
        "报告期末普通股股东总数；79,053"
    )


def test_snippets_show_the_rows_the_query_names() -> None:
    analyzer = Analyzer()
    shown = snippet(LEAVE, "sick leave days", analyzer)
    assert shown == (
        "Types of leave\n| Leave type | Days per year | Paid | Needs a document |\n…\n"
        "| Sick leave | 12 | Yes | Doctor's note after 2 consecutive days |\n…"
    )
    assert snippet(LEAVE, "company car", analyzer) == readable(LEAVE)  # no row named: the head
    assert snippet("Plain prose. Two sentences.", "prose", analyzer) == "Plain prose. Two sentences."
    wide = "| " + " | ".join(f"column number {i}" for i in range(12)) + " |\n" + "| --- " * 12 + "|\n"
    wide += "| " + " | ".join(str(i) for i in range(12)) + " |\n| Texas | " + " | ".join("7" * 11) + " |"
    assert snippet(wide, "Texas", analyzer).startswith("…\n| Texas |")  # a long header is left out
    answer = Answerer(analyzer, refusal_threshold=0.3).answer("How many days of sick leave do I get?", hits(LEAVE))
    assert "| Sick leave | 12 |" in answer.citations[0].snippet and "Annual leave" not in answer.citations[0].snippet


SHAREHOLDERS = (
    "| 股东名称 | 股东性质 | 持股比例 | 持股数量 | 质押或冻结情况 |  |\n"
    "| --- | --- | --- | --- | --- | --- |\n"
    "|  |  |  |  | 股份状态 | 数量 |\n"
    "| 香港中央结算（代理人）有限公司 | 境外法人 | 29.43% | 257,055,899 |  |  |\n"
    "| 北京海鸿源投资管理有限公司 | 境内非国有法人 | 9.33% | 81,494,850 | 质押 | 81,494,850 |"
)


def test_two_level_headers_name_their_columns(answerer: Answerer) -> None:
    # A spanning upper header cell (merged: repeated, or left empty by the PDF grid) over a row of
    # sub-names with no row label: both levels name the columns under them.
    classes = "| | Class1 | Class1 | Class2 |\n| --- | --- | --- | --- |\n| | A | B | A |\n| R1 | True | False | True |"
    assert column_names(classes, classes.index("| R1")) == ["", "Class1/A", "Class1/B", "Class2/A"]
    assert is_header_row(classes, classes.index("| | A")) and is_header_row(classes, 0)
    assert not is_header_row(classes, classes.index("| R1"))
    row = SHAREHOLDERS.index("| 北京")
    assert column_names(SHAREHOLDERS, row)[4:] == ["质押或冻结情况/股份状态", "质押或冻结情况/数量"]
    answer = answerer.answer("北京海鸿源投资管理有限公司质押了多少股？", hits(SHAREHOLDERS))
    assert answer.text == (
        "股东名称：北京海鸿源投资管理有限公司；股东性质：境内非国有法人；持股比例：9.33%；持股数量：81,494,850；"
        "质押或冻结情况/股份状态：质押；质押或冻结情况/数量：81,494,850 [1]"
    )
    # A plain header over data rows with labels has one level only.
    assert column_names(LEAVE, LEAVE.index("| Sick")) == ["Leave type", "Days per year", "Paid", "Needs a document"]


def test_html_caption_names_its_table(tmp_path: Path) -> None:
    path = tmp_path / "staff.html"
    path.write_text(
        "<html><body><table><caption>Table 2. Staff by office</caption>"
        "<tr><th>Office</th><th>Staff</th></tr><tr><td>Beijing</td><td>120</td></tr>"
        "<tr><td>Shanghai</td><td>80</td></tr></table></body></html>",
        encoding="utf-8",
    )
    doc = ParserRegistry().parse(path)
    check_spans(doc)
    (table,) = doc.blocks
    assert table.name == "Table 2. Staff by office"  # the caption was lost before 2026-12-03
    assert table.text.startswith("Table 2. Staff by office\n\n| Office | Staff |")
    assert table.rows == [["Office", "Staff"], ["Beijing", "120"], ["Shanghai", "80"]]


def test_structured_rows_get_real_column_names() -> None:
    from zhiku.ingest import extract_tables

    years = [["Item", "2022", "2023"], ["Revenue", "1,200", "1,350"]]  # years name columns
    continued = [["Inventory", "300", "280"], ["Total assets", "24,682", "21,499"]]
    bare = [["一般风险准备", "", ""], ["未分配利润", "-2,038,791,290.11", "-2,034,142,303.59"]]
    doc = ParsedDocument.from_blocks(
        [
            Block("table", table_text(years), rows=years),
            Block("table", table_text([["Item", "Closing", "Opening"], *continued]), rows=continued),
            Block("table", table_text(bare), rows=bare),
        ]
    )
    first, second, third = extract_tables(doc)
    assert (first.columns, first.rows) == (["Item", "2022", "2023"], [["Revenue", "1,200", "1,350"]])
    assert (second.columns, second.rows) == (["Item", "Closing", "Opening"], continued)  # the carried header
    assert (third.columns, third.rows) == (["column 1", "column 2", "column 3"], bare)  # no header at all
    assert are_column_names(["Item", "2022", "2023"]) and not are_column_names(["Revenue", "1,200", "1,350"])


def test_hostile_cells_are_judged_in_linear_time() -> None:
    # A 200,000-digit cell that ends in a letter: the number patterns must not backtrack over it
    # (the first versions did, quadratically: 7.5 s at 20,000 characters, hours at this size).
    cell = "1" * 200_000 + "x"
    assert not is_amount(cell) and are_column_names([cell, "Name"])
    table = f"| {cell} | Name |\n| --- | --- |\n| 1 | a |"
    assert column_names(table, table.index("| 1 |")) == [cell, "Name"]
    # and a long dashed line that is not quite a separator row (2.5 s at 20,000 characters before)
    dashes = "|" + "-" * 200_000 + "x"
    assert not is_separator(dashes) and not has_separator(dashes)
    assert sentence_spans(dashes) == [(0, len(dashes))]


def test_pipes_in_prose_are_no_table(answerer: Answerer) -> None:
    # CMRC's DEV_20 context ends in MediaWiki table markup; without a separator line no text is a
    # table, so its sentences are scored and quoted as before the table code.
    prose = '舜天是琉球国舜天王朝建立者，神号尊敦。|-style="text-align: center;"\n|a| b |'
    assert split_sentences(prose) == [
        "舜天是琉球国舜天王朝建立者，神号尊敦。",
        '|-style="text-align: center;"',
        "|a| b |",
    ]
    assert not is_table_row(prose, prose.index("|a|"))
    assert is_table_row(LEAVE, LEAVE.index("| Sick")) and is_table_row(LEAVE, LEAVE.index("| Leave type"))
    assert not is_table_row(LEAVE, LEAVE.index("Sick"))  # not at the start of a line
    answer = answerer.answer("舜天的神号是什么？", hits(prose))
    assert "尊敦" in answer.text and "：" not in answer.text.split("[")[0]


def test_prose_snippets_start_at_the_sentence_the_query_names() -> None:
    analyzer = Analyzer()
    filler = " ".join(f"Sentence {i} is about office plants and nothing else." for i in range(8))
    text = f"{filler} Parking permits are issued by the facilities desk on the ground floor. Then more."
    shown = snippet(text, "Where do I get a parking permit?", analyzer)
    assert shown.startswith("…Sentence 7 is about office plants") or shown.startswith("…Parking permits")
    assert "Parking permits are issued" in shown[:240]
    short = "Parking permits are issued by the facilities desk. Office plants are watered on Fridays."
    assert snippet(short, "parking permit", analyzer) == short  # the head already shows it
    assert snippet(text, "quantum chromodynamics", analyzer) == text  # nothing named: the head


def test_a_form_laid_out_as_a_grid_has_no_column_names() -> None:
    # Label/value cells with merged values repeated across the first row: not a header.
    form = (
        "| 姓名 | 王伟 | 王伟 | 王伟 | 曾用名 | 曾用名 | 曾用名 | 性别 | 性别 |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
        "| 出生日期 | 1990-05-01 | 1990-05-01 | 1990-05-01 | 民族 | 汉 | 汉 | 籍贯 | 上海 |"
    )
    row = form.index("| 出生日期")
    assert column_names(form, row) == [] and not is_header_row(form, 0)
    assert read_row(form, row, "zh") == "出生日期；1990-05-01；民族；汉；籍贯；上海"  # merged repeats once


def test_names_that_recur_apart_still_name_columns() -> None:
    # NICS: "Handgun" and "*Other" recur under every group; they are not merged runs.
    header = ["State", "Permit", *(["Handgun", "Long Gun", "*Other"] * 3), "Totals"]  # 6 names in 12 columns
    table = "| " + " | ".join(header) + " |\n|" + " --- |" * len(header) + "\n| Texas |" + " 1 |" * 11
    assert column_names(table, table.index("| Texas")) == header


# -- wide tables, group headers, table titles --------------------------------------------------------

GROUPED = (
    "Firearm background checks November 2015\n\n"
    "| State | Permit | Handgun | Long Gun | Pre-Pawn |  |  | Redemption |  |  | Totals |\n"
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
    "|  |  |  |  | Handgun | Long Gun | Other | Handgun | Long Gun | Other |  |\n"
    "| Ohio | 9,338 | 34,878 | 31,817 | 24 | 16 | 1 | 1,228 | 1,389 | 4 | 78,695 |\n"
    "| Texas | 21,550 | 56,941 | 51,670 | 29 | 20 | 0 | 5,748 | 5,331 | 21 | 146,982 |"
)


def test_group_labels_without_sub_names_do_not_spread() -> None:
    # "State" spans both header rows; the unlabelled sub-columns under nothing keep their own names.
    row = GROUPED.index("| Texas")
    assert column_names(GROUPED, row) == [
        "State",
        "Permit",
        "Handgun",
        "Long Gun",
        "Pre-Pawn/Handgun",
        "Pre-Pawn/Long Gun",
        "Pre-Pawn/Other",
        "Redemption/Handgun",
        "Redemption/Long Gun",
        "Redemption/Other",
        "Totals",
    ]
    assert table_title(GROUPED, row) == "Firearm background checks November 2015"
    assert table_title(LEAVE, LEAVE.index("| Sick")) == "Types of leave"
    assert table_title(GROUPED.split("\n\n", 1)[1], 0) == ""  # the header row itself: no table above it


def test_a_wide_row_is_read_out_narrowed_to_the_asked_columns(answerer: Answerer) -> None:
    answer = answerer.answer("How many pre-pawn long gun checks were there in Ohio?", hits(GROUPED))
    assert answer.text == "State: Ohio; Pre-Pawn/Long Gun: 16 [1]"
    handguns = answerer.answer("How many handgun checks in Texas?", hits(GROUPED)).text
    assert handguns == "State: Texas; Handgun: 56,941; Pre-Pawn/Handgun: 29; Redemption/Handgun: 5,748 [1]"
    # a count naming no column: the row's total
    total = answerer.answer("How many background checks were there in Texas?", hits(GROUPED)).text
    assert total == "State: Texas; Totals: 146,982 [1]"
    # a question naming no column: the whole row
    whole = answerer.answer("What are the figures for Texas?", hits(GROUPED)).text
    assert whole.startswith("State: Texas; Permit: 21,550;") and whole.endswith("Totals: 146,982 [1]")
    # a narrow row is never cut
    leave = answerer.answer("How many days of sick leave do I get?", hits(LEAVE)).text
    assert leave.startswith("Leave type: Sick leave; Days per year: 12; Paid: Yes")


def test_a_row_answer_is_not_padded_with_prose_that_misses_its_subject(answerer: Answerer) -> None:
    # The notes name "handgun" and "checks" more often than the row does; only the row (with its
    # title and column names) names Texas as well.
    notes = (
        "NOTES: Some states may reflect lower than expected numbers for handgun checks based on varying "
        "state laws pertaining to handgun permits; these statistics represent firearm background checks"
    )
    answer = answerer.answer("How many handgun background checks were there in Texas?", hits(GROUPED, notes))
    assert answer.text.startswith("State: Texas;") and "NOTES" not in answer.text
    assert len(answer.citations) == 1


def test_chunks_of_a_long_table_repeat_both_header_rows() -> None:
    body = "\n".join(f"| State {i} | {i} | {i} | {i} | {i} | {i} | {i} | {i} | {i} | {i} | {i} |" for i in range(200))
    text = GROUPED.rsplit("\n", 2)[0] + "\n" + body
    doc = ParsedDocument.from_blocks([Block("table", text)], title="checks")
    chunks = Chunker(max_tokens=300).chunk(doc)
    assert len(chunks) > 3
    head = text.split("\n| --- ")[0]
    second = "|  |  |  |  | Handgun | Long Gun | Other | Handgun | Long Gun | Other |  |"
    for chunk in chunks:
        assert chunk.text.startswith(head) and chunk.text.split("\n")[4] == second
        row = chunk.text.index("| State ", chunk.text.index(second) + len(second))
        assert column_names(chunk.text, row)[5] == "Pre-Pawn/Long Gun"
    assert snippet(chunks[-1].text, "State 199", Analyzer()).endswith("| State 199 | 199 |" + " 199 |" * 9)


def test_structured_columns_are_distinct_and_two_level() -> None:
    from zhiku.ingest import extract_tables

    grouped = [
        ["Item", "Sales", "", "Returns", "", ""],
        ["", "North", "South", "North", "South", ""],
        ["Paper", "12", "7", "1", "0", "20"],
    ]
    repeated = [["Name", "Score", "Score"], ["Li", "3", "4"]]
    doc = ParsedDocument.from_blocks(
        [Block("table", table_text(grouped), rows=grouped), Block("table", table_text(repeated), rows=repeated)]
    )
    first, second = extract_tables(doc)
    assert first.columns == ["Item", "Sales/North", "Sales/South", "Returns/North", "Returns/South", "column 6"]
    assert first.rows == [grouped[2]]
    assert second.columns == ["Name", "Score", "Score 2"]


def test_a_question_naming_a_column_but_no_row_reads_the_column(answerer: Answerer) -> None:
    # "餐补" names a column; no row is named, so any one row would be a guess: the column, down the rows.
    # (How it is read out is tested here; whether the evidence suffices, on the demo in
    # test_real_model.py: this table alone scores below the refusal threshold.)
    answerer = Answerer(Analyzer(), refusal_threshold=0.0)
    meals = answerer.answer("出差的餐补是多少？", hits(TRAVEL))
    assert meals.text == "餐补（元/天）：一线城市 150；二线城市 120；其他城市 100 [1]"
    assert answerer.answer("住宿上限是多少？", hits(TRAVEL)).text.startswith("住宿上限（元/晚）：一线城市 600；")
    # a row named: that row, as before
    assert answerer.answer("二线城市的餐补是多少？", hits(TRAVEL)).text.startswith("城市类别：二线城市；")
    row = TRAVEL.index("| 二线城市")
    assert read_column(TRAVEL, row, "en", lambda cell: int("餐补" in cell)) == (
        "餐补（元/天）: 一线城市 150; 二线城市 120; 其他城市 100"
    )
    assert read_column(TRAVEL, row, "zh", lambda cell: 0) is None  # no column asked


def test_a_short_table_row_is_no_heading(answerer: Answerer) -> None:
    # "| 教育机构 | 7折 |" is short and unpunctuated like a heading: every row ranked as one, and the
    # header row "客户类型; 折扣" was quoted as the answer to an English question over the table.
    table = (
        "Discounts\n\n| 客户类型 | 折扣 |\n| --- | --- |\n| 教育机构 | 7折 |\n| 三年合同 | 85折 |\n| 非营利组织 | 8折 |"
    )
    answer = answerer.answer("What discount do education customers get?", hits(table))
    assert not answer.refused and "教育机构" in answer.text and "7折" in answer.text, answer.text
