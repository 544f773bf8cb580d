"""A tiny PDF writer for tests: text at exact positions in the standard Helvetica fonts.

Real PDFs, written byte by byte, so tests control layout (columns, headers, content order) exactly
and pdfium reads them like any other file. Only what the PDF tests need: WinAnsi text in
Helvetica / Helvetica-Bold, several pages, optional drawing operators (rules for tables).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Text:
    """One text run: its baseline starts at (x, y) in points, origin bottom-left."""

    x: float
    y: float
    text: str
    size: float = 10.0
    bold: bool = False


@dataclass
class Page:
    """A page's text runs in content-stream order, plus raw drawing operators."""

    items: list[Text] = field(default_factory=list)
    drawing: str = ""
    width: float = 612.0
    height: float = 792.0

    def add(self, x: float, y: float, text: str, size: float = 10.0, bold: bool = False) -> Page:
        self.items.append(Text(x, y, text, size, bold))
        return self


def _escape(text: str) -> bytes:
    # WinAnsi (cp1252); other code points below 256 go in as raw bytes (to make broken text layers).
    data = b"".join(ch.encode("cp1252") if _in_cp1252(ch) else bytes([ord(ch)]) for ch in text)
    return data.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _in_cp1252(ch: str) -> bool:
    try:
        ch.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def write_pdf(path: Path, pages: list[Page]) -> Path:
    """Write ``pages`` to ``path`` as a PDF 1.4 file with a correct cross-reference table."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in below
    pages_id = add(b"")
    regular = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    bold = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>")
    kids: list[int] = []
    for page in pages:
        ops = [page.drawing.encode("ascii")] if page.drawing else []
        for item in page.items:
            font = b"/F2" if item.bold else b"/F1"
            ops.append(
                b"BT %s %.2f Tf 1 0 0 1 %.2f %.2f Tm (%s) Tj ET" % (font, item.size, item.x, item.y, _escape(item.text))
            )
        stream = b"\n".join(ops)
        content = add(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %.0f %.0f] /Contents %d 0 R "
                b"/Resources << /Font << /F1 %d 0 R /F2 %d 0 R >> >> >>"
                % (pages_id, page.width, page.height, content, regular, bold)
            )
        )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id
    objects[pages_id - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, catalog, xref)
    path.write_bytes(bytes(out))
    return path
