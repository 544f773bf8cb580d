"""Parsers: one module per format, chosen by a ``ParserRegistry`` from the extension and the bytes.

``ParserRegistry.parse`` is the one entry point ingestion uses. It guarantees that every failure is a
``ParseError`` whose message names the file and says what is wrong (missing, too large, empty,
binary, encrypted, corrupt, ...), so a bad file never crashes a whole ingestion job.
"""

from __future__ import annotations

import importlib
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import MissingExtra, ParseError
from ..types import ParsedDocument
from .base import BINARY_MESSAGE, looks_binary
from .safety import ZIP_MAGIC, ZipLimits, check_zip

if TYPE_CHECKING:  # parser workers import this package: no pydantic, numpy or store at run time
    from ..protocols import Parser
    from ..settings import Settings

__all__ = ["ParseError", "ParserRegistry"]

#: (extensions, "module:Class", MIME types, format label, extra that provides the library).
BUILTIN_PARSERS: tuple[tuple[tuple[str, ...], str, tuple[str, ...], str, str], ...] = (
    ((".txt", ".text", ".log"), "zhiku.parse.text:TextParser", ("text/plain",), "text", ""),
    (
        (".md", ".markdown", ".mdown", ".mkd"),
        "zhiku.parse.markdown:MarkdownParser",
        ("text/markdown",),
        "Markdown",
        "",
    ),
    (
        (".html", ".htm", ".xhtml"),
        "zhiku.parse.html:HtmlParser",
        ("text/html", "application/xhtml+xml"),
        "HTML",
        "html",
    ),
    ((".pdf",), "zhiku.parse.pdf:PdfParser", ("application/pdf",), "PDF", "pdf"),
    (
        (".docx",),
        "zhiku.parse.docx:DocxParser",
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",),
        "DOCX",
        "docx",
    ),
    (
        (".pptx",),
        "zhiku.parse.pptx:PptxParser",
        ("application/vnd.openxmlformats-officedocument.presentationml.presentation",),
        "PPTX",
        "office",
    ),
    (
        (".xlsx", ".xlsm"),
        "zhiku.parse.spreadsheet:XlsxParser",
        (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.ms-excel.sheet.macroEnabled.12",
        ),
        "XLSX",
        "office",
    ),
    ((".csv",), "zhiku.parse.spreadsheet:CsvParser", ("text/csv",), "CSV", ""),
    ((".tsv", ".tab"), "zhiku.parse.spreadsheet:TsvParser", ("text/tab-separated-values",), "TSV", ""),
    ((".eml",), "zhiku.parse.email:EmlParser", ("message/rfc822",), "e-mail", ""),
    ((".vtt",), "zhiku.parse.transcript:VttParser", ("text/vtt",), "WebVTT", ""),
    ((".srt",), "zhiku.parse.transcript:SrtParser", ("application/x-subrip",), "SRT", ""),
    (
        (".png", ".jpg", ".jpeg", ".tif", ".tiff"),
        "zhiku.parse.image:ImageParser",
        ("image/png", "image/jpeg", "image/tiff"),
        "image",
        "ocr",
    ),
)

# The third-party packages each extra pulls in: an ImportError naming one of them means "install
# the extra", anything else is a bug in zhiku and must not be disguised.
_EXTRA_MODULES = {
    "bs4": "html",
    "lxml": "html",
    "pypdfium2": "pdf",
    "docx": "docx",
    "pptx": "office",
    "openpyxl": "office",
}

# Bytes sniffed at the start of a file -> the extension whose parser should read it.
_SNIFF_BYTES = 8192


@dataclass
class _Entry:
    factory: Callable[[], Parser]
    label: str
    mimes: tuple[str, ...]


def _lazy_factory(target: str, extra: str, settings: Settings | None = None) -> Callable[[], Parser]:
    """A factory that imports ``module:Class`` on first use, so a missing optional library only
    breaks its own format. A class with ``from_settings`` (PDF, images: OCR and password options)
    is built from ``settings`` when the registry has them."""
    module_name, _, class_name = target.partition(":")

    def factory() -> Parser:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            missing = (exc.name or "").split(".")[0]
            if missing in _EXTRA_MODULES:
                raise MissingExtra(missing, extra or _EXTRA_MODULES[missing]) from exc
            raise
        cls = getattr(module, class_name)
        configurable = settings is not None and hasattr(cls, "from_settings")
        parser: Parser = cls.from_settings(settings) if configurable else cls()
        return parser

    return factory


class ParserRegistry:
    """Maps file extensions (and MIME types) to parsers; the App owns one instance.

    Built-in formats are registered at construction; ``register`` adds or overrides formats.
    ``settings`` (optional) configure the parsers that take options (OCR, PDF password).
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self._by_ext: dict[str, _Entry] = {}
        self._by_mime: dict[str, str] = {}
        self._instances: dict[str, Parser] = {}
        # ZIP containers are checked against these unless parse() is given limits (zhiku/parse/safety.py).
        self._zip_limits = ZipLimits.from_settings(settings) if settings is not None else ZipLimits()
        for extensions, target, mimes, label, extra in BUILTIN_PARSERS:
            self.register(list(extensions), _lazy_factory(target, extra, settings), mimes=mimes, label=label)

    def register(
        self,
        extensions: list[str],
        factory: Callable[[], Parser],
        mimes: tuple[str, ...] | list[str] = (),
        *,
        label: str | None = None,
    ) -> None:
        """Register ``factory`` for ``extensions`` (with or without the dot) and ``mimes``.

        MIME types starting with ``text/`` mark the format as text, which turns on the binary check.
        ``label`` names the format in error messages (default: the first extension, upper-cased).
        """
        exts = [e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions]
        if not exts:
            raise ValueError("register() needs at least one extension")
        entry = _Entry(factory, label or exts[0].lstrip(".").upper(), tuple(mimes))
        for ext in exts:
            self._by_ext[ext] = entry
            self._instances.pop(ext, None)
        for mime in mimes:
            self._by_mime[mime.lower()] = exts[0]

    def supported_extensions(self) -> list[str]:
        """Every registered extension, sorted, with its leading dot."""
        return sorted(self._by_ext)

    def supports(self, path: Path | str) -> bool:
        """True when a parser is registered for the file's extension."""
        return Path(path).suffix.lower() in self._by_ext

    def extension_for_mime(self, mime: str) -> str | None:
        """The extension registered for a MIME type (parameters such as ``; charset=`` ignored)."""
        return self._by_mime.get(mime.split(";")[0].strip().lower())

    def parser_for(self, path: Path | str) -> Parser:
        """The parser for ``path``'s extension; ``ParseError`` if none, ``MissingExtra`` if its
        library is not installed."""
        return self._parser_for_ext(Path(path).suffix.lower(), Path(path).name)

    def _parser_for_ext(self, ext: str, name: str) -> Parser:
        entry = self._by_ext.get(ext)
        if entry is None:
            shown = ext or "(no extension)"
            raise ParseError(
                f"{name}: unsupported file type {shown}; supported: {', '.join(self.supported_extensions())}"
            )
        if ext not in self._instances:
            self._instances[ext] = entry.factory()
        return self._instances[ext]

    def _is_text(self, ext: str) -> bool:
        entry = self._by_ext.get(ext)
        return entry is not None and any(m.startswith("text/") for m in entry.mimes)

    def parse(self, path: Path, *, max_bytes: int | None = None, zip_limits: ZipLimits | None = None) -> ParsedDocument:
        """Parse one file. Raises only ``ParseError``, whose message names the file and the reason.

        ``zip_limits`` (default: the registry's settings) bound what a ZIP container (DOCX/XLSX/PPTX) may hold;
        they are checked before any library opens it (decompression bombs).
        """
        path = Path(path)
        name = path.name
        size, head = _check_file(path, max_bytes)
        if head.startswith(ZIP_MAGIC):
            check_zip(path, zip_limits or self._zip_limits)
        ext = path.suffix.lower()
        sniffed = _sniff(head, path)
        if sniffed == "ole2" and _is_encrypted_ooxml(path):
            raise ParseError(
                f"{name}: password-protected Office file: remove the password in Office "
                "(File > Info > Protect) and save it again"
            )
        if sniffed == "ole2":
            raise ParseError(
                f"{name}: legacy binary Office file (.doc/.xls/.ppt) is not supported; save it as .docx/.xlsx/.pptx"
            )
        if sniffed and sniffed != ext and sniffed in self._by_ext and not _same_family(sniffed, ext):
            ext = sniffed  # the bytes are more trustworthy than the name
        elif self._is_text(ext) and looks_binary(head):
            raise ParseError(f"{name}: {BINARY_MESSAGE}")
        elif ext not in self._by_ext and sniffed in self._by_ext:
            ext = sniffed
        named = ext
        if sniffed is None and ext in _SIGNED and ".txt" in self._by_ext and not looks_binary(head):
            # Named as a format whose files always start with its signature, holding text instead: read
            # it as the text it is ("fake.pdf" failed as "corrupt or unreadable PDF").
            ext = ".txt"
        label = self._by_ext[ext].label if ext in self._by_ext else ext
        try:
            parser = self._parser_for_ext(ext, name)
            doc = parser.parse(path)
        except ParseError as exc:
            msg = str(exc)
            # Prefix unless the message already starts with the name: a library may quote the full path
            # mid-sentence ("cannot identify image file '/tmp/x.png'"), which is not naming the file first.
            raise ParseError(msg if msg.startswith(name) else f"{name}: {msg}") from exc
        except MissingExtra as exc:
            raise ParseError(f"{name}: cannot read {label}: {exc}") from exc
        except RecursionError as exc:
            raise ParseError(f"{name}: corrupt or unreadable {label}: structure nested too deeply") from exc
        except MemoryError as exc:
            raise ParseError(f"{name}: corrupt or unreadable {label}: out of memory") from exc
        except Exception as exc:  # third-party parsers raise anything; callers rely on one type
            reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise ParseError(f"{name}: corrupt or unreadable {label}: {reason}") from exc
        if not doc.text.strip():
            raise ParseError(f"{name}: no text found in this {label} file")
        if named != ext and ext == ".txt":
            doc.warnings.append(f"named {named} but holds plain text: read as text")
        doc.metadata.setdefault("format", label)
        doc.metadata.setdefault("size", size)
        return doc


def _check_file(path: Path, max_bytes: int | None) -> tuple[int, bytes]:
    """Existence, type, size and readability; returns the size and the first bytes."""
    name = path.name or str(path)
    try:
        if path.is_dir():
            raise ParseError(f"{name}: is a directory, not a file")
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise ParseError(f"{name}: file not found ({path})") from exc
    except OSError as exc:
        raise ParseError(f"{name}: cannot read file: {exc.strerror or exc}") from exc
    if max_bytes is not None and size > max_bytes:
        raise ParseError(too_large(name, size, max_bytes))
    if size == 0:
        raise ParseError(f"{name}: empty file (0 bytes)")
    try:
        with path.open("rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError as exc:
        raise ParseError(f"{name}: cannot read file: {exc.strerror or exc}") from exc
    return size, head


def too_large(name: str, size: int, max_bytes: int) -> str:
    """The message for a file over the size limit (checked before anything reads the file)."""
    return f"{name}: file too large ({_mb(size)} > limit {_mb(max_bytes)}); raise ZHIKU_MAX_FILE_MB to accept it"


def _mb(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 100_000 else f"{n} bytes"


_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", ".png"),
    (b"\xff\xd8\xff", ".jpg"),
    (b"II*\x00", ".tif"),
    (b"MM\x00*", ".tif"),
)


#: Formats whose files always open with a signature ``_sniff`` knows.
_SIGNED = frozenset({".pdf", ".docx", ".xlsx", ".xlsm", ".pptx", ".png", ".jpg", ".jpeg", ".tif", ".tiff"})


def _sniff(head: bytes, path: Path) -> str | None:
    """The extension the content says this is, or None when the bytes do not say."""
    if b"%PDF-" in head[:1024]:
        return ".pdf"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "ole2"
    for magic, ext in _IMAGE_MAGIC:
        if head.startswith(magic):
            return ext
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
        except (zipfile.BadZipFile, OSError, ValueError):
            return None
        for marker, ext in (
            ("word/document.xml", ".docx"),
            ("ppt/presentation.xml", ".pptx"),
            ("xl/workbook.xml", ".xlsx"),
        ):
            if marker in names:
                return ext
        return None
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith((b"<!doctype html", b"<html")):
        return ".html"
    if start.startswith(b"webvtt"):
        return ".vtt"
    if _SRT_START.match(start):
        return ".srt"
    return None


# An SRT file opens with a cue number and a timing line.
_SRT_START = re.compile(rb"\d{1,6}[ \t]*\r?\n\d{1,2}:\d{2}:\d{2}[,.]\d{1,3}[ \t]*-->")
# Encrypted DOCX/XLSX/PPTX are OLE2 containers holding an "EncryptionInfo" stream (name in UTF-16).
_ENCRYPTION_INFO = "EncryptionInfo".encode("utf-16-le")
_OLE_SCAN_BYTES = 4 * 1024 * 1024


def _is_encrypted_ooxml(path: Path) -> bool:
    """True for a password-protected OOXML file (an OLE2 container with an EncryptionInfo stream)."""
    try:
        with path.open("rb") as fh:
            return _ENCRYPTION_INFO in fh.read(_OLE_SCAN_BYTES)
    except OSError:
        return False


def _same_family(a: str, b: str) -> bool:
    """Extensions that are spellings of one format (``.htm``/``.html``) are not a mismatch."""
    families = ({".html", ".htm", ".xhtml"}, {".jpg", ".jpeg"}, {".tif", ".tiff"}, {".xlsx", ".xlsm"})
    return any(a in f and b in f for f in families)
