"""Tests of ``zhiku eval parsing``: the token and table-cell metrics on hand-computed cases, the evaluator on
a small dataset built here with real files, the CLI, and the shared doc_parsing dataset end to end."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import shared_dataset

from zhiku.cli import main
from zhiku.errors import ZhikuError
from zhiku.eval.parsing import (
    bag_f1,
    cells_of,
    evaluate_parsing,
    markdown_tables,
    normalize_cell,
    strip_markdown,
    token_f1,
    tokens,
)
from zhiku.settings import Settings

# -- tokens and F1 -------------------------------------------------------------------------------


def test_identical_text_scores_one() -> None:
    text = "# Annual leave\n\nEmployees get **15 days** of annual leave. 员工每年有十五天年假。"
    assert token_f1(text, text) == 1.0


def test_disjoint_text_scores_zero() -> None:
    assert token_f1("alpha beta gamma", "delta epsilon") == 0.0
    assert token_f1("年假", "病假工资") == pytest.approx(2 * (1 / 2) * (1 / 4) / (1 / 2 + 1 / 4))  # 假 shared
    assert token_f1("年休", "病工资") == 0.0


def test_tokens_chinese_characters_and_english_words() -> None:
    assert tokens("员工 Handbook v2.1：年假15天") == ["员", "工", "handbook", "v2", "1", "年", "假", "15", "天"]
    # Full-width forms are folded (NFKC) and case is ignored.
    assert tokens("ＡＢＣ１２３") == tokens("abc123") == ["abc123"]


def test_mixed_chinese_english_partial_overlap_hand_computed() -> None:
    ours = "年假 annual leave 十五天"  # 年 假 annual leave 十 五 天 -> 7 tokens
    expected = "年假 annual 十天 policy"  # 年 假 annual 十 天 policy -> 6 tokens
    # overlap: 年 假 annual 十 天 = 5; P = 5/7, R = 5/6
    p, r = 5 / 7, 5 / 6
    assert token_f1(ours, expected) == pytest.approx(2 * p * r / (p + r))


def test_bag_counts_repeats() -> None:
    score = bag_f1(["a", "a", "b"], ["a", "b", "b"])
    assert (score.overlap, score.precision, score.recall) == (2, pytest.approx(2 / 3), pytest.approx(2 / 3))
    assert bag_f1([], []).f1 == 1.0
    assert bag_f1(["a"], []).f1 == 0.0
    assert bag_f1([], ["a"]).f1 == 0.0


def test_markdown_syntax_does_not_count() -> None:
    markdown = (
        "## Leave policy\n\n- **Annual** leave: see [the handbook](https://example.com/hr/handbook_v2.pdf)\n"
        "1. first step\n\n<!-- image -->\n\n![Org chart](chart.png)\n\n| a | b |\n| --- | :-: |\n| 1 | 2 |\n"
        "Cited [[ 15 ]](#cite_note-FOOTNOTE-15) &amp; more\n```python\ncode\n```"
    )
    plain = "Leave policy\nAnnual leave: see the handbook\nfirst step\nOrg chart\na b\n1 2\nCited 15 & more\ncode"
    assert tokens(markdown) == tokens(plain)
    assert "https" not in strip_markdown(markdown)


# -- tables --------------------------------------------------------------------------------------


def test_markdown_tables_are_found_with_cells() -> None:
    text = "intro | not a table\n\n| h1 | h2 |\n|---|---|\n| a | b \\| c |\n|  | d |\n\nafter\n\n| x |\n| - |\n| y |"
    tables = markdown_tables(text)
    assert tables == [[["h1", "h2"], ["a", "b | c"], ["", "d"]], [["x"], ["y"]]]
    # Empty cells are ignored; punctuation-only cells are empty after normalisation.
    assert cells_of([[["A  B", "", "-"], ["年 假", "**x**"]]]) == ["a b", "年 假", "x"]
    assert normalize_cell(" Merged  Cell 1.1 ") == "merged cell 1 1"


# -- the evaluator on a small real dataset -------------------------------------------------------


def _write_manifest(folder: Path, rows: list[dict[str, str]]) -> None:
    with (folder / "MANIFEST.tsv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, ["file", "format", "language", "expected_markdown"], delimiter="\t")
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    import docx

    folder = tmp_path / "ds"
    (folder / "expected").mkdir(parents=True)
    document = docx.Document()
    document.add_heading("Leave 年假", level=1)
    document.add_paragraph("Employees get fifteen days of annual leave.")
    table = document.add_table(rows=2, cols=2)
    for r, row in enumerate([["Type", "Days"], ["Annual", "15"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.save(str(folder / "leave.docx"))
    (folder / "expected" / "leave.md").write_text(
        "# Leave 年假\n\nEmployees get fifteen days of annual leave.\n\n| Type | Days |\n|---|---|\n| Annual | 15 |\n",
        encoding="utf-8",
    )
    (folder / "notes.md").write_text("# Notes\n\nNo reference for this one.\n", encoding="utf-8")
    (folder / "broken.docx").write_bytes(b"PK\x03\x04 this is not really a zip archive")
    (folder / "expected" / "broken.md").write_text("Some text that was lost.\n", encoding="utf-8")
    _write_manifest(
        folder,
        [
            {"file": "leave.docx", "format": "docx", "language": "zh+en", "expected_markdown": "expected/leave.md"},
            {"file": "notes.md", "format": "md", "language": "en", "expected_markdown": ""},
            {"file": "broken.docx", "format": "docx", "language": "en", "expected_markdown": "expected/broken.md"},
        ],
    )
    return folder


def test_evaluate_parsing_scores_reports_and_counts_failures(tiny_dataset: Path, tmp_path: Path) -> None:
    details = tmp_path / "details.jsonl"
    result = evaluate_parsing(Settings(home=tmp_path / "home"), tiny_dataset, details=details)
    files = {r["file"]: r for r in result["files"]}
    assert list(files) == ["leave.docx", "notes.md", "broken.docx"]
    leave = files["leave.docx"]
    assert leave["ok"] and leave["scored"] and leave["tables"] == 1
    assert leave["text_f1"] == 1.0 and leave["table_f1"] == 1.0
    notes = files["notes.md"]
    assert notes["ok"] and not notes["scored"] and notes["text_f1"] is None and notes["chars"] > 0
    broken = files["broken.docx"]
    assert not broken["ok"] and "broken.docx" in broken["error"] and broken["text_f1"] == 0.0
    assert broken["table_f1"] is None  # its reference has no table
    assert result["n"] == 2 and result["n_tables"] == 1 and result["n_files"] == 3 and result["n_ok"] == 2
    assert result["text_f1_mean"] == 0.5 and result["table_f1_mean"] == 1.0
    assert result["by_format"]["docx"]["n"] == 2
    lines = [json.loads(line) for line in details.read_text(encoding="utf-8").splitlines()]
    assert [d["file"] for d in lines] == list(files)
    assert lines[2]["tokens"]["missing"][0][0] in {"some", "text", "that", "was", "lost"}


def test_folder_without_manifest_is_parsed_unscored(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "a.txt").write_text("hello world", encoding="utf-8")
    result = evaluate_parsing(Settings(home=tmp_path / "home"), folder)
    assert result["n_files"] == 1 and result["n"] == 0 and result["text_f1_mean"] is None
    with pytest.raises(ZhikuError, match="not a folder"):
        evaluate_parsing(Settings(home=tmp_path / "home"), folder / "a.txt")


def test_cli_eval_parsing(tiny_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    result = CliRunner().invoke(
        main, ["--home", str(tmp_path / "home"), "eval", "parsing", str(tiny_dataset), "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "leave.docx" in result.output and "text F1 mean 0.5000 over 2 files" in result.output
    assert json.loads(out.read_text(encoding="utf-8"))["n_files"] == 3


# -- the shared dataset --------------------------------------------------------------------------


def test_shared_doc_parsing_dataset_end_to_end(tmp_path: Path) -> None:
    folder = shared_dataset("doc_parsing")
    result = evaluate_parsing(Settings(home=tmp_path / "home"), folder)
    for key in ("text_f1_mean", "table_f1_mean", "n", "n_tables", "n_files", "n_ok", "by_format", "files"):
        assert key in result
    with (folder / "MANIFEST.tsv").open(encoding="utf-8") as fh:
        listed = [row["file"] for row in csv.DictReader(fh, delimiter="\t")]
    assert [r["file"] for r in result["files"]] == listed  # every listed file attempted, in order
    assert all(r["ok"] or r["error"] for r in result["files"])
    assert result["n"] == sum(1 for r in result["files"] if r["scored"]) >= 1
    assert 0.0 <= result["text_f1_mean"] <= 1.0
