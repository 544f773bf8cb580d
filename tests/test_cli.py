from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from zhiku.cli import main
from zhiku.demo import DEMO_DIR


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ZHIKU_EMBEDDER", "hash")
    for var in ("ZHIKU_LLM_BASE_URL", "ZHIKU_LLM_MODEL"):
        monkeypatch.delenv(var, raising=False)
    home = str(tmp_path / "home")
    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(main, ["--home", home, *args], catch_exceptions=False)

    return invoke


def test_kb_lifecycle(run) -> None:  # type: ignore[no-untyped-def]
    assert run("kb", "create", "handbook", "-d", "HR docs").exit_code == 0
    dup = run("kb", "create", "handbook")
    assert dup.exit_code == 1 and "already exists" in dup.output
    listed = json.loads(run("kb", "list", "--json").output)
    assert listed[0]["name"] == "handbook"
    missing = run("add", "--kb", "nope", str(DEMO_DIR))
    assert missing.exit_code == 1 and "zhiku kb create nope" in missing.output
    assert run("kb", "delete", "handbook", "--yes").exit_code == 0


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("a/b", "slash"),
        ("a\\b", "slash"),
        ("   ", "empty"),
        (" padded", "starts or ends with a space"),
        ("tab\there", "control character"),
        ("..", "path step"),
        ("x" * 201, "longer than 200"),
    ],
)
def test_kb_names_that_could_not_be_used_everywhere_are_refused(run, name: str, why: str) -> None:  # type: ignore[no-untyped-def]
    made = run("kb", "create", name)
    assert made.exit_code == 1 and why in made.output
    assert run("add", "--kb", name, str(DEMO_DIR)).exit_code == 1  # `add` creates a missing kb: same check
    assert json.loads(run("kb", "list", "--json").output) == []


def test_kb_names_in_any_script_with_inner_spaces_are_fine(run) -> None:  # type: ignore[no-untyped-def]
    for name in ("员工手册", "HR policies 2026", "team-a_v1.2:draft"):
        assert run("kb", "create", name).exit_code == 0, name


def test_add_search_ask(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("kb", "create", "handbook")
    added = run("add", "--kb", "handbook", str(DEMO_DIR))
    assert added.exit_code == 0 and "4 added" in added.output
    again = run("add", "--kb", "handbook", str(DEMO_DIR))
    assert "4 unchanged" in again.output
    found = run("search", "--kb", "handbook", "年假怎么申请", "--explain")
    assert found.exit_code == 0 and "员工手册.md" in found.output and "bm25: rank" in found.output
    question = "How many days of annual leave do new hires get?"
    answer = json.loads(run("ask", "--kb", "handbook", question, "--json").output)
    assert answer["mode"] == "extractive" and "10 days" in answer["answer"] and answer["citations"]
    assert answer["citations"][0]["where"]
    streamed = run("ask", "--kb", "handbook", "How many days of annual leave do new hires get?")
    assert "[1]" in streamed.output and "grounding" in streamed.output
    refused = run("ask", "--kb", "handbook", "法国的首都是哪里？")
    assert "知识库中没有找到" in refused.output
    assert "最接近的段落（并未回答这个问题）：" in refused.output and ".md" in refused.output.split("最接近的段落")[1]
    traditional = run("ask", "--kb", "handbook", "法國的首都是哪裡？")  # every line in the question's script
    assert "知識庫中沒有找到" in traditional.output and "最接近的段落（並未回答這個問題）：" in traditional.output
    overlong = run("ask", "--kb", "handbook", "年假" * 3000)
    assert overlong.exit_code == 1 and "ZHIKU_MAX_QUERY_CHARS" in overlong.output
    empty = run("ask", "--kb", "handbook", "")
    assert empty.exit_code == 1 and "the question is empty" in empty.output
    docs = run("docs", "--kb", "handbook").output.splitlines()
    doc_id = docs[0].split()[0]
    assert run("rm", "--kb", "handbook", doc_id).exit_code == 0
    assert len(run("docs", "--kb", "handbook").output.splitlines()) == 3


def test_bad_file_exit_code_and_summary(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "good.md"
    good.write_text("# Ok\n\nFine text.", encoding="utf-8")
    bad = tmp_path / "bad.docx"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip")
    result = run("add", str(good), str(bad))  # no --kb: the default knowledge base is created
    assert result.exit_code == 1
    assert "1 added, 1 failed" in result.output and "bad.docx" in result.output


def test_demo_without_serving(run) -> None:  # type: ignore[no-untyped-def]
    result = run("demo", "--no-serve")
    assert result.exit_code == 0 and "zhiku ask" in result.output and "zhiku serve" in result.output
    assert "is serving" not in result.output and "curl" not in result.output  # nothing is listening


def test_help_everywhere(run) -> None:  # type: ignore[no-untyped-def]
    for command in ([], ["add"], ["search"], ["ask"], ["kb"], ["serve"]):
        result = run(*command, "--help")
        assert result.exit_code == 0 and "Usage" in result.output


@pytest.mark.parametrize("quiet", [True, False])
def test_add_names_skipped_files_and_each_failure_once_without_a_terminal(run, tmp_path: Path, quiet: bool) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "good.md").write_text("# Good\n\nRead.\n", encoding="utf-8")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "legacy.doc").write_bytes(b"\xd0\xcf\x11\xe0 old Word file")
    (folder / "notes.xyz").write_text("what is this", encoding="utf-8")
    result = run("add", "--kb", "k", "--create", *(["-q"] if quiet else []), str(folder))
    assert result.exit_code == 1 and "1 added, 1 failed" in result.output
    assert "skipped 2 file(s)" in result.output and "legacy.doc, notes.xyz" in result.output
    assert "as .docx" in result.output  # what to do with the old Word file
    # No terminal (a log file, CI): no progress bars, no colour codes, each failure said once.
    assert result.output.count("empty.txt: empty file") == 1
    assert "\x1b[" not in result.output and "\r" not in result.output


def test_jobs_list_retry_and_run(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "later.md"
    bad.write_bytes(b"")
    good = tmp_path / "now.md"
    good.write_text("# Now\n\nIndexed now.\n", encoding="utf-8")
    added = run("add", "--kb", "k", "--create", str(good), str(bad))
    assert added.exit_code == 1 and "1 added, 1 failed" in added.output
    listed = run("jobs", "--kb", "k")
    assert listed.exit_code == 0 and "done" in listed.output and "failed" in listed.output
    assert "1 done, 1 failed" in listed.output
    failed = json.loads(run("jobs", "--status", "failed", "--json").output)
    assert [Path(j["key"]).name for j in failed] == ["later.md"] and "empty" in failed[0]["reason"]
    shown = json.loads(run("jobs", "show", str(failed[0]["id"])).output)
    assert shown["id"] == failed[0]["id"] and shown["attempts"] == 1
    bad.write_text("# Later\n\nFixed.\n", encoding="utf-8")
    retried = run("jobs", "retry", "--failed")
    assert retried.exit_code == 0 and "1 job(s) run, 0 failed" in retried.output
    assert json.loads(run("jobs", "show", str(failed[0]["id"])).output)["status"] == "done"
    nothing = run("jobs", "retry", "--failed")
    assert "no failed jobs" in nothing.output
    ran = run("jobs", "run")
    assert ran.exit_code == 0 and "0 job(s) done" in ran.output
    for command in (["jobs"], ["jobs", "retry"], ["jobs", "run"], ["sync"]):
        assert run(*command, "--help").exit_code == 0


def test_answer_notes_are_printed_under_the_sources(capsys: pytest.CaptureFixture[str]) -> None:
    from zhiku.answer import OTHER_LANGUAGE_NOTES
    from zhiku.cli.query import print_sources
    from zhiku.types import Answer, Citation, Locator

    citation = Citation(1, 3, 2, "handbook_en.md", "Handbook", Locator(), "Sick leave | 12 | Yes", 0.9)
    answer = Answer("病假有几天？", "Sick leave: 12 days. [1]", [citation], "extractive", language="zh")
    answer.notes = [OTHER_LANGUAGE_NOTES["zh"]]
    print_sources(answer)
    out = capsys.readouterr().out
    assert "[1] handbook_en.md" in out and out.rstrip().endswith(OTHER_LANGUAGE_NOTES["zh"])


def test_add_reports_warnings_of_files_it_indexed(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["Item", "Cost", "Total"])
    wb.active.append(["Rent", 100, "=B2*12"])
    wb.save(tmp_path / "budget.xlsx")
    result = run("add", "--kb", "k", "--create", str(tmp_path / "budget.xlsx"))
    assert result.exit_code == 0 and "1 added" in result.output
    assert (
        "1 file(s) indexed with warnings:" in result.output and "budget.xlsx: 1 of 1 formula cell(s)" in result.output
    )


def test_a_damaged_store_is_a_clear_error_not_a_traceback(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run("kb", "create", "k").exit_code == 0
    (tmp_path / "home" / "zhiku.db").write_bytes(b"this is no SQLite database " * 200)
    for args in (["kb", "list"], ["search", "--kb", "k", "leave"], ["doctor"]):
        result = run(*args)
        assert result.exit_code == 1, (args, result.output)
        assert "is damaged" in result.output and "restore it from a backup" in result.output, result.output
        assert "Traceback" not in result.output


def test_full_disks_and_read_only_folders_say_what_to_do() -> None:
    import errno
    import sqlite3

    from zhiku.errors import storage_problem

    home, db = Path("/srv/zhiku"), Path("/srv/zhiku/zhiku.db")
    full = storage_problem(OSError(errno.ENOSPC, "No space left on device"), home, db)
    assert full is not None and "disk holding /srv/zhiku is full" in full
    assert "is full" in (storage_problem(sqlite3.OperationalError("database or disk is full"), home, db) or "")
    read_only = storage_problem(OSError(errno.EROFS, "Read-only file system"), home, db)
    assert read_only is not None and "ZHIKU_HOME" in read_only
    assert "cannot write" in (storage_problem(sqlite3.OperationalError("unable to open database file"), home, db) or "")
    assert storage_problem(ValueError("unrelated"), home, db) is None


def test_ctrl_c_during_add_says_how_to_finish(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "done.md").write_text("# Done\n\nIndexed first.\n", encoding="utf-8")
    (folder / "stuck.sleepy").write_text("never parsed", encoding="utf-8")  # its parser sleeps for an hour
    env = {
        **os.environ,
        "ZHIKU_HOME": str(tmp_path / "home"),
        "ZHIKU_EMBEDDER": "hash",
        "ZHIKU_PARSER_PLUGINS": '["plugins.hostile_parsers:register"]',
        "PYTHONPATH": str(Path(__file__).parent),
    }
    zhiku = str(Path(sys.executable).parent / "zhiku")
    proc = subprocess.Popen(
        [zhiku, "add", "--create", "-q", str(folder)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as a terminal delivers it
    )
    time.sleep(4.0)  # the Markdown file is done; the sleepy one is being parsed
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert "interrupted: the files indexed so far are kept" in out and "zhiku jobs run" in out
    assert "Aborted!" not in out
