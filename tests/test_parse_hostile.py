"""Hostile and broken input: decompression bombs, huge entry counts, deep nesting, truncated files,
wrong extensions and binary text files. Each must fail alone with a readable reason (or parse), and a
batch holding it must still index the good file next to it.

The files are real: built here with zipfile, python-docx, openpyxl and python-pptx, never mocked.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from zhiku import App
from zhiku.errors import ParseError
from zhiku.parse import ParserRegistry
from zhiku.parse.safety import ZipLimits, _declared_entries, check_zip
from zhiku.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures"
GIB = 1 << 30


@pytest.fixture
def registry() -> ParserRegistry:
    return ParserRegistry()


def parse_error(registry: ParserRegistry, path: Path, **kwargs: object) -> str:
    with pytest.raises(ParseError) as info:
        registry.parse(path, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert message.startswith(f"{path.name}: "), message  # every reason names its file first
    return message


def good_markdown(folder: Path) -> Path:
    path = folder / "good.md"
    path.write_text("# Leave\n\nEmployees get fifteen days of annual leave. 员工每年有十五天年假。\n", encoding="utf-8")
    return path


def assert_batch_isolates(app: App, bad: Path, good: Path, reason: str) -> None:
    """Index [bad, good] in one batch: the bad file fails with ``reason``, the good one is indexed."""
    app.ensure_kb("default")
    report = app.add("default", [bad, good])
    outcomes = {Path(o.path).name: o for o in report.outcomes}
    assert outcomes[bad.name].status == "failed", outcomes
    assert reason in outcomes[bad.name].reason, outcomes[bad.name].reason
    assert outcomes[good.name].status == "added" and outcomes[good.name].chunks >= 1
    assert [d.path for d in app.list_documents("default")] == [outcomes[good.name].path]


def make_docx(path: Path, text: str = "A genuine Word document about annual leave.") -> Path:
    import docx

    document = docx.Document()
    document.add_heading("Policy", level=1)
    document.add_paragraph(text)
    document.save(str(path))
    return path


def make_xlsx(path: Path) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Leave"
    sheet.append(["Type", "Days"])
    for i in range(50):
        sheet.append([f"Kind {i}", i])
    book.save(str(path))
    return path


def make_pptx(path: Path) -> Path:
    from pptx import Presentation

    deck = Presentation()
    for i in range(3):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = f"Slide {i} title"
        slide.placeholders[1].text = f"Body text of slide {i} about annual leave"
    deck.save(str(path))
    return path


# -- decompression bombs and huge archives -----------------------------------------------------------


def make_bomb(path: Path, size: int = GIB) -> Path:
    """A DOCX-shaped ZIP whose document part is ``size`` bytes of zeros, written in a stream (a few MB)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open("word/document.xml", "w", force_zip64=True) as fh:
            chunk = b"\0" * (16 << 20)
            for _ in range(size // len(chunk)):
                fh.write(chunk)
    return path


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = make_bomb(tmp_path_factory.mktemp("bomb") / "bomb.docx")
    with zipfile.ZipFile(path) as zf:  # it really is a bomb: 1 GiB behind a few MB
        assert zf.getinfo("word/document.xml").file_size == GIB
    assert path.stat().st_size < 10 * (1 << 20)
    return path


def test_zip_bomb_is_refused_before_any_library_reads_it(registry: ParserRegistry, bomb: Path) -> None:
    started = time.perf_counter()
    message = parse_error(registry, bomb)
    assert time.perf_counter() - started < 5.0  # refused from the directory, nothing inflated
    assert "refused" in message and "decompression bomb" in message
    assert "archive expands to 1.0 GB (> limit 500 MB)" in message and "ZHIKU_MAX_UNZIPPED_MB" in message


def test_zip_bomb_total_and_ratio_limits_name_their_setting(bomb: Path) -> None:
    big_total = ZipLimits(max_unzipped_bytes=2 * GIB)
    with pytest.raises(ParseError, match=r"entry word/document\.xml expands to 1\.0 GB \(> limit 250 MB\).*_ENTRY_MB"):
        check_zip(bomb, big_total)
    generous = ZipLimits(max_entry_bytes=2 * GIB, max_unzipped_bytes=2 * GIB)
    with pytest.raises(ParseError, match=r"expands \d+x .*limit 200x.*ZHIKU_MAX_ZIP_RATIO"):
        check_zip(bomb, generous)
    check_zip(bomb, ZipLimits(max_entry_bytes=2 * GIB, max_unzipped_bytes=2 * GIB, max_ratio=1e6))


def test_zip_limits_come_from_settings(tmp_path: Path, registry: ParserRegistry) -> None:
    settings = Settings(home=tmp_path / "home", max_unzipped_mb=0.01, max_zip_entries=3)
    limits = ZipLimits.from_settings(settings)
    assert limits.max_unzipped_bytes == int(0.01 * 1024 * 1024) and limits.max_entries == 3
    docx_path = make_docx(tmp_path / "policy.docx")
    # A genuine DOCX passes the defaults and is refused by tight limits, with the setting named.
    assert "annual leave" in registry.parse(docx_path).text
    message = parse_error(registry, docx_path, zip_limits=limits)
    assert "entries (> limit 3)" in message and "ZHIKU_MAX_ZIP_ENTRIES" in message


def test_zip_bomb_in_a_batch_does_not_stop_the_good_file(app: App, bomb: Path, tmp_path: Path) -> None:
    assert_batch_isolates(app, bomb, good_markdown(tmp_path), "decompression bomb")


def test_archive_with_100k_entries_is_refused(registry: ParserRegistry, app: App, tmp_path: Path) -> None:
    path = tmp_path / "many.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("xl/workbook.xml", "<workbook/>")
        for i in range(100_000):
            zf.writestr(f"xl/e{i}", b"")
    with path.open("rb") as fh:  # counted from the ZIP64 end record, before zipfile reads the directory
        assert _declared_entries(fh) == 100_001
    started = time.perf_counter()
    message = parse_error(registry, path)
    assert time.perf_counter() - started < 5.0
    assert "100,001 entries (> limit 10,000)" in message and "ZHIKU_MAX_ZIP_ENTRIES" in message
    assert_batch_isolates(app, path, good_markdown(tmp_path), "entries")


# -- deep nesting -------------------------------------------------------------------------------------


def test_deeply_nested_html_fails_or_parses_without_crashing(tmp_path: Path) -> None:
    """100k nested <div>s: a clean ParseError or a parse, never a crash. Run in a child process so a
    stack overflow in a C library would show as a failed test instead of killing the test run."""
    path = tmp_path / "nested.html"
    depth = 100_000
    path.write_text(
        "<html><body>" + "<div>" * depth + "deep text at the bottom" + "</div>" * depth + "<p>after</p></body></html>",
        encoding="utf-8",
    )
    good = good_markdown(tmp_path)
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from zhiku import App, Settings\n"
        "from zhiku.errors import ParseError\n"
        "from zhiku.parse import ParserRegistry\n"
        "try:\n"
        "    doc = ParserRegistry().parse(Path(sys.argv[1]))\n"
        "    print('PARSED', len(doc.text))\n"
        "except ParseError as exc:\n"
        "    print('PARSEERROR', exc)\n"
        "app = App(Settings(home=Path(sys.argv[3]), embedder='hash'))\n"
        "app.ensure_kb('default')\n"
        "report = app.add('default', [Path(sys.argv[1]), Path(sys.argv[2])])\n"
        "print('BATCH', sorted((Path(o.path).name, o.status) for o in report.outcomes))\n"
        "app.close()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run(
        [sys.executable, "-c", script, str(path), str(good), str(tmp_path / "home")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    first = proc.stdout.splitlines()[0]
    assert first.startswith(("PARSED", "PARSEERROR nested.html: ")), proc.stdout
    assert "('good.md', 'added')" in proc.stdout, proc.stdout


# -- truncated office files and PDFs ------------------------------------------------------------------

MAKERS = {"docx": make_docx, "xlsx": make_xlsx, "pptx": make_pptx}


@pytest.mark.parametrize("fmt", ["docx", "xlsx", "pptx"])
@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_office_files(fmt: str, keep: float, registry: ParserRegistry, tmp_path: Path) -> None:
    good = MAKERS[fmt](tmp_path / f"good.{fmt}")
    assert registry.parse(good).text.strip()
    bad = tmp_path / f"cut.{fmt}"
    data = good.read_bytes()
    bad.write_bytes(data[: int(len(data) * keep)])
    message = parse_error(registry, bad)
    # The central directory sits at the end of a ZIP: a cut file has none and is refused up front.
    assert f"corrupt or truncated {fmt.upper()} file" in message


def test_truncated_office_file_in_a_batch(app: App, tmp_path: Path) -> None:
    data = make_docx(tmp_path / "whole.docx").read_bytes()
    bad = tmp_path / "cut.docx"
    bad.write_bytes(data[: len(data) // 2])
    (tmp_path / "whole.docx").unlink()
    assert_batch_isolates(app, bad, good_markdown(tmp_path), "corrupt or truncated DOCX")


def test_truncated_pdf(registry: ParserRegistry, app: App, tmp_path: Path) -> None:
    data = (FIXTURES / "multipage_zh_en.pdf").read_bytes()
    bad = tmp_path / "cut.pdf"
    bad.write_bytes(data[:400])  # the header and little else: nothing PDFium can recover
    message = parse_error(registry, bad)
    assert "PDF" in message
    assert_batch_isolates(app, bad, good_markdown(tmp_path), "PDF")


# -- wrong extensions and binary text -----------------------------------------------------------------


def test_wrong_extension_is_sniffed_from_content(registry: ParserRegistry, tmp_path: Path) -> None:
    as_pdf = make_docx(tmp_path / "policy.pdf", "Word content behind a PDF name.")
    doc = registry.parse(as_pdf)
    assert "Word content behind a PDF name." in doc.text and doc.metadata["format"] == "DOCX"
    as_docx = tmp_path / "report.docx"
    as_docx.write_bytes((FIXTURES / "multipage_zh_en.pdf").read_bytes())
    assert registry.parse(as_docx).metadata["format"] == "PDF"
    sheet_as_pptx = make_xlsx(tmp_path / "sheet.pptx")
    try:
        doc = registry.parse(sheet_as_pptx)
    except ParseError as exc:  # the XLSX parser may not be installed yet: then a clear reason
        assert str(exc).startswith("sheet.pptx: ")
    else:
        assert "Kind 7" in doc.text


def test_binary_txt_is_refused(registry: ParserRegistry, app: App, tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_bytes(bytes(range(256)) * 64 + os.urandom(4096))
    message = parse_error(registry, bad)
    assert "binary" in message
    assert_batch_isolates(app, bad, good_markdown(tmp_path), "binary")


def test_zip_named_txt_is_binary(registry: ParserRegistry, tmp_path: Path) -> None:
    bad = make_docx(tmp_path / "x.docx")
    renamed = tmp_path / "notes.txt"
    bad.rename(renamed)
    doc_or_error: str
    try:
        doc_or_error = registry.parse(renamed).metadata["format"]
    except ParseError as exc:
        doc_or_error = str(exc)
    # Sniffed as the DOCX it is (content beats the name) or refused as binary: never garbage text.
    assert doc_or_error == "DOCX" or "binary" in doc_or_error


def test_huge_file_is_refused_by_size_alone(registry: ParserRegistry, tmp_path: Path) -> None:
    """A 3 GB file (sparse: no disk used) is refused from its size, before a byte is read (ingestion
    checks the size before it hashes the file); in a batch the good file is indexed."""
    bad = tmp_path / "huge.txt"
    with bad.open("wb") as fh:
        fh.truncate(3 * GIB)
    message = parse_error(registry, bad, max_bytes=200 * 1024 * 1024)
    assert "file too large (3221.2 MB > limit 209.7 MB)" in message
    app = App(Settings(home=tmp_path / "home", embedder="hash", max_file_mb=200))
    try:
        started = time.perf_counter()
        assert_batch_isolates(app, bad, good_markdown(tmp_path), "too large")
        assert time.perf_counter() - started < 30  # hashing 3 GB alone took ~40 s here
    finally:
        app.close()


def test_zip_limits_from_settings_apply_to_ingestion(tmp_path: Path) -> None:
    """ZHIKU_MAX_ZIP_ENTRIES (here 3) reaches the registry ingestion builds: a genuine DOCX is refused
    with the setting named; with the default limits the same file is indexed."""
    docx_path = make_docx(tmp_path / "policy.docx")
    tight = App(Settings(home=tmp_path / "tight", embedder="hash", max_zip_entries=3))
    try:
        assert_batch_isolates(tight, docx_path, good_markdown(tmp_path), "ZHIKU_MAX_ZIP_ENTRIES")
    finally:
        tight.close()
    default = App(Settings(home=tmp_path / "default", embedder="hash"))
    try:
        default.ensure_kb("default")
        assert default.add("default", [docx_path]).ok
    finally:
        default.close()


def test_long_pathological_lines_parse_in_linear_time(registry: ParserRegistry, tmp_path: Path) -> None:
    # Lines that nearly match a table delimiter row or a number ("|-|-|…x", "1111…x"): the patterns
    # that tested them backtracked quadratically (1.3 s at 8,000 characters; this size would take
    # minutes and hit the parse time limit instead of parsing).
    line = "|-" * 100_000 + "x"
    md = tmp_path / "odd.md"
    md.write_text(f"| a | b |\n{line}\n\nText after.\n", encoding="utf-8")
    doc = registry.parse(md)
    assert "Text after." in doc.text and line in doc.text
