"""Fuzzing every registered parser with mutated files: the only exception is ParseError, nothing hangs.

For each format the registry knows, a small valid seed file is generated here with the real library
(python-docx, openpyxl, python-pptx, Pillow, the email package) or taken from tests/fixtures.
Hypothesis applies random byte mutations (bit flips, truncation, insertions, overwrites, chunk
duplication); for ZIP-based formats it also mutates one member of the archive and re-zips it, so the
XML parsers behind the ZIP layer are reached too. Each mutated file goes through
``ParserRegistry.parse`` in a worker process, so a hang (no answer within ``HANG_SECONDS``) or a crash
of a C library (segfault, abort) is reported as a failure of this test instead of killing the run.

Budget: ``ZHIKU_FUZZ_EXAMPLES`` examples per format (default 150, about 30 s for the whole file on the
2-core CI machine); raise it for a longer local campaign.
"""

from __future__ import annotations

import contextlib
import email.message
import io
import multiprocessing
import os
import time
import traceback
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest

hypothesis = pytest.importorskip("hypothesis", reason="the fuzz test needs hypothesis (pip install -e '.[dev]')")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from zhiku.parse import BUILTIN_PARSERS  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLES = int(os.environ.get("ZHIKU_FUZZ_EXAMPLES", "150"))
HANG_SECONDS = 30.0  # no answer by then: the parser hangs (the worker is killed and restarted)
SLOW_SECONDS = 5.0  # "a few seconds": a parse of these few-KB seeds takes < 0.3 s
#: OCR legitimately takes seconds per page (a mutated PDF whose text layer turns to garbage is OCR'd).
SLOW_SECONDS_FOR = {"PDF": 20.0, "image": 20.0}
MEMORY_LIMIT = 4 << 30  # the worker's address space: a runaway allocation becomes a MemoryError


# -- seeds ---------------------------------------------------------------------------------------------

TEXT_ZH_EN = "员工手册 Employee handbook\n\n年假：每年十五天。Annual leave: 15 days a year.\n"


def seed_text() -> bytes:
    return TEXT_ZH_EN.encode("utf-8")


def seed_markdown() -> bytes:
    return (
        "# 员工手册\n\n## Leave\n\n- Annual: **15** days\n- Sick: 10 days\n\n"
        "| Type | Days |\n| --- | --- |\n| 年假 | 15 |\n\n```\ncode\n```\n> quote [link](http://x)\n"
    ).encode()


def seed_html() -> bytes:
    return (
        "<!doctype html><html><head><title>IT FAQ</title></head><body><nav><a href='/'>Home</a></nav>"
        "<main><h1>员工手册</h1><p>Annual leave: <b>15</b> days.</p><ul><li>one<li>two</ul>"
        "<table><tr><th rowspan=2>Type</th><th>Days</th></tr><tr><td>15</td></tr></table></main></body></html>"
    ).encode()


def seed_pdf() -> bytes:
    return (FIXTURES / "multipage_zh_en.pdf").read_bytes()


def seed_docx() -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("员工手册 Handbook", level=1)
    document.add_paragraph("Annual leave: 15 days.", style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    for r, row in enumerate([["Type", "Days"], ["年假", "15"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    table.cell(0, 0).merge(table.cell(1, 0))
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def seed_pptx() -> bytes:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = "员工手册 Handbook"
    slide.placeholders[1].text = "Annual leave: 15 days"
    shape = slide.shapes.add_table(2, 2, Inches(1), Inches(3), Inches(4), Inches(1))
    for r, row in enumerate([["Type", "Days"], ["年假", "15"]]):
        for c, value in enumerate(row):
            shape.table.cell(r, c).text = value
    slide.notes_slide.notes_text_frame.text = "Speaker notes here."
    buf = io.BytesIO()
    deck.save(buf)
    return buf.getvalue()


def seed_xlsx() -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Leave"
    sheet.append(["Type", "Days", "Double"])
    sheet.append(["年假", 15, "=B2*2"])
    sheet.append(["Sick", 10, "=B3*2"])
    sheet.merge_cells("A5:C5")
    sheet["A5"] = "merged note"
    book.create_sheet("Other").append(["x", 1])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def seed_csv() -> bytes:
    return 'type,days,note\n年假,15,"quoted, comma"\nsick,10,x\n'.encode()


def seed_tsv() -> bytes:
    return "type\tdays\n年假\t15\nsick\t10\n".encode()


def seed_eml() -> bytes:
    msg = email.message.EmailMessage()
    msg["From"] = "HR <hr@example.com>"
    msg["To"] = "all@example.com"
    msg["Subject"] = "年假 policy"
    msg["Date"] = "Mon, 23 Nov 2026 10:00:00 +0800"
    msg.set_content("Annual leave is 15 days.\n员工每年有十五天年假。")
    msg.add_alternative("<p>Annual leave is <b>15</b> days.</p>", subtype="html")
    msg.add_attachment(b"type,days\nannual,15\n", maintype="text", subtype="csv", filename="leave.csv")
    return msg.as_bytes()


def seed_vtt() -> bytes:
    return (
        "WEBVTT\n\n00:00:01.000 --> 00:00:04.000\n<v Alice>Welcome to the meeting.\n\n"
        "00:00:04.500 --> 00:00:07.000\n<v Bob>年假是十五天。\n"
    ).encode()


def seed_srt() -> bytes:
    return (
        "1\n00:00:01,000 --> 00:00:04,000\nAlice: Welcome.\n\n2\n00:00:04,500 --> 00:00:07,000\n年假是十五天。\n"
    ).encode()


def seed_png() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("L", (220, 60), 255)
    ImageDraw.Draw(image).text((10, 20), "Annual leave 15 days", fill=0)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


#: Registry format label -> (extension the mutated file is saved under, seed maker).
SEEDS: dict[str, tuple[str, Callable[[], bytes]]] = {
    "text": (".txt", seed_text),
    "Markdown": (".md", seed_markdown),
    "HTML": (".html", seed_html),
    "PDF": (".pdf", seed_pdf),
    "DOCX": (".docx", seed_docx),
    "PPTX": (".pptx", seed_pptx),
    "XLSX": (".xlsx", seed_xlsx),
    "CSV": (".csv", seed_csv),
    "TSV": (".tsv", seed_tsv),
    "e-mail": (".eml", seed_eml),
    "WebVTT": (".vtt", seed_vtt),
    "SRT": (".srt", seed_srt),
    "image": (".png", seed_png),
}
#: OCR runs tesseract per image (~0.5 s): fewer examples keep the budget.
EXAMPLES_FOR = {"image": max(3, EXAMPLES // 10), "PDF": max(5, EXAMPLES // 2)}


def test_every_registered_format_has_a_seed() -> None:
    """A new parser joins the fuzz test by adding its seed here."""
    labels = {label for _, _, _, label, _ in BUILTIN_PARSERS}
    assert labels == set(SEEDS), f"formats without a fuzz seed: {sorted(labels - set(SEEDS))}"


# -- the worker process --------------------------------------------------------------------------------


def _serve(conn: Connection) -> None:
    """Parse the files sent over ``conn``; answer (outcome, detail, seconds) for each."""
    import resource

    from zhiku.errors import ParseError
    from zhiku.parse import ParserRegistry

    with contextlib.suppress(ValueError, OSError):  # a lower hard limit already: keep it
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    registry = ParserRegistry()
    while True:
        path = conn.recv()
        if path is None:
            return
        started = time.perf_counter()
        try:
            doc = registry.parse(Path(path))
            outcome, detail = "ok", f"{len(doc.blocks)} blocks, {len(doc.text)} chars"
        except ParseError as exc:
            outcome, detail = "ParseError", str(exc)
        except BaseException:  # exactly what this test hunts for
            outcome, detail = "exception", traceback.format_exc()
        conn.send((outcome, detail, time.perf_counter() - started))


class ParseWorker:
    """A child process running ``ParserRegistry.parse``; restarted after a hang or a crash."""

    def __init__(self) -> None:
        self._ctx = multiprocessing.get_context("fork")
        self._start()

    def _start(self) -> None:
        self.conn, child = self._ctx.Pipe()
        self.proc = self._ctx.Process(target=_serve, args=(child,), daemon=True)
        self.proc.start()
        child.close()

    def _restart(self) -> None:
        self.proc.kill()
        self.proc.join()
        self.conn.close()
        self._start()

    def parse(self, path: Path) -> tuple[str, str, float]:
        self.conn.send(str(path))
        if not self.conn.poll(HANG_SECONDS):
            self._restart()
            return "hang", f"no answer after {HANG_SECONDS:.0f} s", HANG_SECONDS
        try:
            answer: tuple[str, str, float] = self.conn.recv()
        except (EOFError, ConnectionResetError):
            self.proc.join(5)
            code = self.proc.exitcode
            self._restart()
            return "crash", f"the parsing process died (exit code {code}: a signal if negative)", 0.0
        return answer

    def close(self) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            self.conn.send(None)
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()


@pytest.fixture(scope="module")
def worker() -> Any:
    w = ParseWorker()
    yield w
    w.close()


# -- mutations -----------------------------------------------------------------------------------------


@dataclass
class Mutation:
    """One edit at a relative position (0..1) of the data, so it applies to any length."""

    op: str
    at: float
    arg: int
    payload: bytes

    def apply(self, data: bytes) -> bytes:
        if not data:
            return self.payload
        pos = min(int(self.at * len(data)), len(data) - 1)
        if self.op == "flip":
            return data[:pos] + bytes([data[pos] ^ (1 << (self.arg % 8))]) + data[pos + 1 :]
        if self.op == "truncate":
            return data[:pos]
        if self.op == "insert":
            return data[:pos] + self.payload + data[pos:]
        if self.op == "overwrite":
            return data[:pos] + self.payload + data[pos + len(self.payload) :]
        if self.op == "duplicate":  # repeat a chunk in place a few times
            chunk = data[pos : pos + 1 + self.arg % 512]
            return data[:pos] + chunk * (2 + self.arg % 7) + data[pos:]
        if self.op == "delete":
            return data[:pos] + data[pos + 1 + self.arg % 256 :]
        raise AssertionError(self.op)


# Bytes that tend to matter to parsers: structure characters, huge numbers, NULs, invalid UTF-8.
INTERESTING = [b"<", b">", b"</", b"<<", b"]]>", b"|", b'"', b"\x00", b"\xff\xfe", b"\xe4\xb8", b"-->", b"\n\n"]
INTERESTING += [b"999999999", b"-1", b"obj", b"endobj", b"stream", b"R", b"/Length 99999999", b"%PDF-1.7"]

mutations = st.builds(
    Mutation,
    op=st.sampled_from(["flip", "truncate", "insert", "overwrite", "duplicate", "delete"]),
    at=st.floats(0.0, 1.0, allow_nan=False, exclude_max=True),
    arg=st.integers(0, 10_000),
    payload=st.one_of(st.binary(min_size=1, max_size=16), st.sampled_from(INTERESTING)),
)


def mutate(data: bytes, edits: list[Mutation]) -> bytes:
    for edit in edits:
        data = edit.apply(data)
    return data


def mutate_member(data: bytes, member: int, edits: list[Mutation]) -> bytes:
    """Re-zip ``data`` with one member (chosen by index) mutated: reaches the XML behind the ZIP layer."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        infos = src.infolist()
        target = infos[member % len(infos)].filename
        for info in infos:
            body = src.read(info.filename)
            dst.writestr(info.filename, mutate(body, edits) if info.filename == target else body)
    return out.getvalue()


# -- the fuzz test -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seeds() -> dict[str, bytes]:
    return {label: maker() for label, (_, maker) in SEEDS.items()}


def check(worker: ParseWorker, path: Path, data: bytes, label: str) -> None:
    path.write_bytes(data)
    outcome, detail, seconds = worker.parse(path)
    where = f"{label} parser on a {len(data)}-byte mutation saved as {path}"
    if outcome not in ("ok", "ParseError"):
        keep = path.with_name(f"failing-{label}{path.suffix}")
        keep.write_bytes(data)
        pytest.fail(f"{outcome} from the {where} (kept as {keep}):\n{detail}")
    if outcome == "ParseError":
        assert detail.startswith(f"{path.name}: ") and len(detail) > len(path.name) + 5, detail
    assert seconds < SLOW_SECONDS_FOR.get(label, SLOW_SECONDS), f"{where} took {seconds:.1f} s"


@pytest.mark.parametrize("label", list(SEEDS))
def test_seed_parses(label: str, seeds: dict[str, bytes], worker: ParseWorker, tmp_path: Path) -> None:
    """The unmutated seed goes through the same worker: it parses, or fails with a clear reason (an
    optional extra such as OCR missing), never anything else."""
    ext, _ = SEEDS[label]
    check(worker, tmp_path / f"seed{ext}", seeds[label], label)


@pytest.mark.parametrize("label", list(SEEDS))
def test_fuzz_parser(
    label: str, seeds: dict[str, bytes], worker: ParseWorker, tmp_path_factory: pytest.TempPathFactory
) -> None:
    ext, _ = SEEDS[label]
    seed = seeds[label]
    path = tmp_path_factory.mktemp(f"fuzz-{label}") / f"fuzzed{ext}"
    is_zip = seed.startswith(b"PK\x03\x04")

    @settings(
        max_examples=EXAMPLES_FOR.get(label, EXAMPLES),
        deadline=None,  # time is bounded by the worker (HANG_SECONDS, SLOW_SECONDS)
        database=None,  # nothing written into the working tree
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        edits=st.lists(mutations, min_size=1, max_size=4),
        inside=st.booleans() if is_zip else st.just(False),
        member=st.integers(0, 1000),
    )
    def run(edits: list[Mutation], inside: bool, member: int) -> None:
        data = mutate_member(seed, member, edits) if inside else mutate(seed, edits)
        check(worker, path, data, label)

    run()
