"""ParserRegistry: dispatch, sniffing, and the guarantee that bad files raise only ParseError."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from docx import Document
from pypdf import PdfWriter

from zhiku.errors import ParseError
from zhiku.parse import ParserRegistry
from zhiku.types import Block, ParsedDocument

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def registry() -> ParserRegistry:
    return ParserRegistry()


def make_docx(path: Path, text: str = "Sniffed Word document body.") -> Path:
    doc = Document()
    doc.add_heading("Sniffed", level=1)
    doc.add_paragraph(text)
    doc.save(str(path))
    return path


def parse_error(registry: ParserRegistry, path: Path, **kwargs: int) -> str:
    """Parse and return the ParseError message; any other exception type fails the test."""
    with pytest.raises(ParseError) as info:
        registry.parse(path, **kwargs)
    message = str(info.value)
    assert path.name in message, f"message should name the file: {message}"
    return message


# --- registry -------------------------------------------------------------------------------------


def test_supported_extensions_cover_builtin_formats(registry: ParserRegistry) -> None:
    exts = registry.supported_extensions()
    for ext in (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"):
        assert ext in exts
    assert registry.supports("Report.PDF")
    assert not registry.supports("notes.xyz")
    assert registry.extension_for_mime("application/pdf") == ".pdf"
    assert registry.extension_for_mime("text/html; charset=utf-8") == ".html"


def test_unsupported_extension_is_a_parse_error(registry: ParserRegistry, tmp_path: Path) -> None:
    path = tmp_path / "data.xyz"
    path.write_text("hello", encoding="utf-8")
    assert "unsupported file type .xyz" in parse_error(registry, path)
    with pytest.raises(ParseError):
        registry.parser_for(path)


class _ShoutParser:
    def parse(self, path: Path) -> ParsedDocument:
        return ParsedDocument.from_blocks([Block("paragraph", path.read_text().upper())])


def test_register_adds_a_format_to_one_registry_only(tmp_path: Path) -> None:
    first, second = ParserRegistry(), ParserRegistry()
    first.register(["shout", ".yell"], _ShoutParser, mimes=["text/x-shout"])
    path = tmp_path / "a.shout"
    path.write_text("quiet words", encoding="utf-8")
    assert first.parse(path).text == "QUIET WORDS"
    assert ".yell" in first.supported_extensions()
    assert ".shout" not in second.supported_extensions()  # no module-level state
    # A text/* MIME turns on the binary check for the new format.
    binary = tmp_path / "b.shout"
    binary.write_bytes(b"\x00\x01\x02" * 50)
    assert "binary" in parse_error(first, binary)


def test_unexpected_parser_exceptions_are_wrapped(registry: ParserRegistry, tmp_path: Path) -> None:
    class Broken:
        def parse(self, path: Path) -> ParsedDocument:
            raise ValueError("boom in the library")

    registry.register([".brk"], Broken, label="BRK")
    path = tmp_path / "x.brk"
    path.write_text("x", encoding="utf-8")
    message = parse_error(registry, path)
    assert "corrupt or unreadable BRK" in message and "boom in the library" in message


# --- files that are not there, too big, or empty ----------------------------------------------------


def test_missing_file(registry: ParserRegistry, tmp_path: Path) -> None:
    assert "not found" in parse_error(registry, tmp_path / "nope.pdf")


def test_directory(registry: ParserRegistry, tmp_path: Path) -> None:
    folder = tmp_path / "folder.md"
    folder.mkdir()
    assert "directory" in parse_error(registry, folder)


@pytest.mark.parametrize("name", ["empty.txt", "empty.pdf", "empty.docx", "empty.md", "empty.html"])
def test_empty_file(registry: ParserRegistry, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    assert "empty" in parse_error(registry, path)


def test_whitespace_only_file_has_no_text(registry: ParserRegistry, tmp_path: Path) -> None:
    path = tmp_path / "blank.txt"
    path.write_text("\n\n   \n\t\n", encoding="utf-8")
    assert "no text" in parse_error(registry, path)


def test_file_over_max_bytes(registry: ParserRegistry, tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as fh:
        fh.truncate(3_000_000)  # sparse: big on paper, cheap on disk
    message = parse_error(registry, path, max_bytes=1_000_000)
    assert "too large" in message and "limit" in message
    small = tmp_path / "small.txt"
    small.write_text("fits under the limit", encoding="utf-8")
    assert registry.parse(small, max_bytes=1_000_000).text == "fits under the limit"


# --- sniffing ------------------------------------------------------------------------------------------


def test_binary_named_txt(registry: ParserRegistry, tmp_path: Path) -> None:
    path = tmp_path / "photo.txt"
    path.write_bytes(bytes(range(256)) * 40)
    assert "binary file, not text" in parse_error(registry, path)


def test_binary_named_md_without_nul_bytes(registry: ParserRegistry, tmp_path: Path) -> None:
    path = tmp_path / "noise.md"
    path.write_bytes(bytes([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0E, 0x0F, 0x10, 0x11]) * 300)
    assert "binary" in parse_error(registry, path)


def test_pdf_that_is_really_a_docx_is_parsed_by_content(registry: ParserRegistry, tmp_path: Path) -> None:
    path = make_docx(tmp_path / "report.pdf")
    doc = registry.parse(path)
    assert "Sniffed Word document body." in doc.text
    assert doc.metadata["format"] == "DOCX"


def test_text_named_as_a_signed_format_is_read_as_text(registry: ParserRegistry, tmp_path: Path) -> None:
    # API trial: a plain-text file uploaded as fake.pdf failed as "corrupt or unreadable PDF", though the
    # docs say a mis-named file is read by what it is. Bytes that are not text still fail as a PDF.
    (tmp_path / "notes.pdf").write_text("年假：新员工 10 天。Annual leave: 10 days.\n", encoding="utf-8")
    doc = registry.parse(tmp_path / "notes.pdf")
    assert "Annual leave: 10 days." in doc.text and doc.metadata["format"] == "text"
    assert doc.warnings == ["named .pdf but holds plain text: read as text"]
    (tmp_path / "junk.pdf").write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ParseError, match=r"junk\.pdf: corrupt or unreadable PDF"):
        registry.parse(tmp_path / "junk.pdf")


def test_txt_that_is_really_a_pdf(registry: ParserRegistry, tmp_path: Path) -> None:
    path = tmp_path / "handbook.txt"
    path.write_bytes((FIXTURES / "multipage_zh_en.pdf").read_bytes())
    doc = registry.parse(path)
    assert doc.metadata["format"] == "PDF" and doc.metadata["pages"] == 3


def test_txt_that_is_really_html(registry: ParserRegistry, tmp_path: Path) -> None:
    path = tmp_path / "page.txt"
    path.write_text(
        "<!DOCTYPE html><html><head><title>T</title><script>var x;</script></head>"
        "<body><p>Only this.</p></body></html>",
        encoding="utf-8",
    )
    doc = registry.parse(path)
    assert doc.text == "Only this." and doc.title == "T"


def test_zip_that_is_not_office(registry: ParserRegistry, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.txt", "hello")
    path = tmp_path / "archive.docx"
    path.write_bytes(buf.getvalue())
    assert "corrupt or unreadable DOCX" in parse_error(registry, path)
    txt = tmp_path / "archive.txt"
    txt.write_bytes(buf.getvalue())
    assert "binary" in parse_error(registry, txt)


def test_legacy_office_binary(registry: ParserRegistry, tmp_path: Path) -> None:
    path = tmp_path / "old.docx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    assert "legacy" in parse_error(registry, path)


def test_password_protected_office_file(registry: ParserRegistry, tmp_path: Path) -> None:
    # Office saves an encrypted .docx/.xlsx/.pptx as an OLE2 container whose directory lists an
    # "EncryptionInfo" stream (names are UTF-16): the magic, then that directory entry.
    entry = "EncryptionInfo".encode("utf-16-le").ljust(64, b"\x00") + b"\x1e\x00\x02\x01" + b"\x00" * 60
    path = tmp_path / "secret.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 1016 + entry + b"\x00" * 512)
    message = parse_error(registry, path)
    assert "password-protected" in message and "legacy" not in message


@pytest.mark.parametrize(
    ("body", "label"),
    [
        ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Ann>Hello there\n", "WebVTT"),
        ("1\n00:00:01,000 --> 00:00:02,000\nAnn: Hello there\n", "SRT"),
    ],
)
def test_transcripts_named_txt_are_sniffed(registry: ParserRegistry, tmp_path: Path, body: str, label: str) -> None:
    path = tmp_path / "meeting.txt"
    path.write_text(body, encoding="utf-8")
    doc = registry.parse(path)
    assert doc.metadata["format"] == label
    assert (doc.blocks[0].locator.speaker, doc.blocks[0].locator.time_start) == ("Ann", 1.0)


# --- corrupt and protected documents ---------------------------------------------------------------


def test_truncated_pdf(registry: ParserRegistry, tmp_path: Path) -> None:
    data = (FIXTURES / "multipage_zh_en.pdf").read_bytes()
    path = tmp_path / "truncated.pdf"
    path.write_bytes(data[: len(data) // 3])
    try:
        doc = registry.parse(path)  # PDFium may recover some pages from a truncated file
    except ParseError as exc:
        assert "PDF" in str(exc)
    else:
        assert doc.text


def test_garbage_pdf(registry: ParserRegistry, tmp_path: Path) -> None:
    path = tmp_path / "garbage.pdf"
    path.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 20)
    assert "corrupt or unreadable PDF" in parse_error(registry, path)


def test_encrypted_pdf(registry: ParserRegistry) -> None:
    assert "encrypted PDF: a password is required" in parse_error(registry, FIXTURES / "encrypted.pdf")


def test_scanned_pdf_without_text_layer(registry: ParserRegistry, tmp_path: Path) -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_blank_page(width=595, height=842)
    path = tmp_path / "scan.pdf"
    with path.open("wb") as fh:
        writer.write(fh)
    message = parse_error(registry, path)
    assert "scanned" in message and "OCR" in message


def test_truncated_docx(registry: ParserRegistry, tmp_path: Path) -> None:
    data = make_docx(tmp_path / "full.docx").read_bytes()
    path = tmp_path / "cut.docx"
    path.write_bytes(data[: len(data) // 2])
    assert "DOCX" in parse_error(registry, path)


def test_deeply_nested_html(registry: ParserRegistry, tmp_path: Path) -> None:
    path = tmp_path / "deep.html"
    depth = 5000
    path.write_text(
        "<html><body>"
        + "<div>" * depth
        + "<p>deep text</p>"
        + "</div>" * depth
        + "<ul>" * depth
        + "<li>item"
        + "</li></ul>" * depth
        + "<table><tr><td>" * 2000
        + "cell"
        + "</td></tr></table>" * 2000
        + "<p>after</p></body></html>",
        encoding="utf-8",
    )
    try:
        doc = registry.parse(path)
    except ParseError as exc:  # refusing is acceptable; crashing is not
        assert "HTML" in str(exc)
    else:
        assert "deep text" in doc.text


def test_missing_optional_library_breaks_only_its_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.delitem(sys.modules, "zhiku.parse.pdf", raising=False)
    monkeypatch.setitem(sys.modules, "pypdfium2", None)  # makes "import pypdfium2" fail
    registry = ParserRegistry()
    message = parse_error(registry, FIXTURES / "multipage_zh_en.pdf")
    assert "pypdfium2 is not installed" in message and "zhiku[pdf]" in message
    note = tmp_path / "note.txt"
    note.write_text("Text still works.", encoding="utf-8")
    assert registry.parse(note).text == "Text still works."
