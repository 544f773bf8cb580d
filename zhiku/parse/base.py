"""Helpers shared by the format parsers: heading paths, Markdown tables, text decoding, whitespace."""

from __future__ import annotations

import codecs
import re

from ..errors import ParseError

_WS = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")


class HeadingTracker:
    """Keeps the stack of enclosing headings so every block can carry its ``heading_path``."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, str]] = []

    def push(self, level: int, text: str) -> list[str]:
        """Enter a heading; returns the path *including* it (what the heading block itself carries)."""
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, text))
        return self.path

    @property
    def path(self) -> list[str]:
        """The current path, outermost heading first (a fresh list each call)."""
        return [text for _, text in self._stack]


def clean_inline(text: str) -> str:
    """Collapse runs of horizontal whitespace and trim each line; keeps line breaks."""
    lines = (_WS.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def one_line(text: str) -> str:
    """All whitespace (including newlines) collapsed to single spaces."""
    return " ".join(text.split())


def is_cjk(ch: str) -> bool:
    """True for Chinese/Japanese characters and full-width punctuation."""
    return bool(ch) and bool(_CJK.match(ch))


def join_lines(left: str, right: str) -> str:
    """Join two wrapped lines: no space between CJK characters, a space otherwise."""
    if not left:
        return right
    if not right:
        return left
    if is_cjk(left[-1]) and is_cjk(right[0]):
        return left + right
    return f"{left} {right}"


def normalize_rows(rows: list[list[str]]) -> list[list[str]]:
    """Cells single-lined, rows padded to the same width, fully empty rows dropped."""
    cleaned = [[one_line(c) for c in row] for row in rows]
    cleaned = [row for row in cleaned if any(row)]
    width = max((len(r) for r in cleaned), default=0)
    return [row + [""] * (width - len(row)) for row in cleaned]


def render_table(rows: list[list[str]]) -> str:
    """Markdown rendering of a table; the first row is the header."""
    if not rows:
        return ""

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    out = [line(rows[0]), line(["---"] * len(rows[0]))]
    out.extend(line(r) for r in rows[1:])
    return "\n".join(out)


_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: its BOM starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

BINARY_MESSAGE = "looks like a binary file, not text"


def has_bom(data: bytes) -> bool:
    """True when the bytes start with a Unicode byte-order mark."""
    return any(data.startswith(bom) for bom, _ in _BOMS)


def looks_binary(sample: bytes) -> bool:
    """NUL bytes in BOM-less data mean binary, unless the data reads cleanly as BOM-less UTF-16."""
    if has_bom(sample) or b"\x00" not in sample:
        return False
    return _utf16_without_bom(sample[: len(sample) // 2 * 2], partial=True) is None


def _utf16_without_bom(data: bytes, *, partial: bool = False) -> str | None:
    """Text if ``data`` is plausible UTF-16 without a BOM (Windows tools write it), else None.

    Binary data rarely survives: it decodes to control characters, unpaired surrogates or
    private-use code points, and we demand that nearly every character be printable.
    """
    if len(data) % 2:
        return None
    for encoding in ("utf-16-le", "utf-16-be"):
        try:
            text = data.decode(encoding, errors="ignore" if partial else "strict")
        except UnicodeDecodeError:
            continue
        if not text:
            continue
        good = sum(1 for ch in text if ch.isprintable() or ch in "\t\n\r")
        if good / len(text) > 0.98:
            return text
    return None


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode text bytes; returns ``(text, encoding)``.

    BOMs first, then strict UTF-8 (by far the most common), then charset-normalizer, which tells
    GBK/GB18030/Big5 apart. Raises ``ParseError`` when the bytes are not text in any encoding.
    """
    text, encoding = _decode(data)
    # Valid in some encoding is not enough: control characters mean the bytes were never text.
    if _control_ratio(text) > 0.05:
        raise ParseError(BINARY_MESSAGE)
    return text, encoding


def _decode(data: bytes) -> tuple[str, str]:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError as exc:
                raise ParseError(f"invalid {encoding} text: {exc.reason}") from exc
    if b"\x00" in data:
        utf16 = _utf16_without_bom(data)
        if utf16 is None:
            raise ParseError(BINARY_MESSAGE)
        return utf16, "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        raise ParseError(BINARY_MESSAGE)
    encoding = best.encoding
    # Simplified Chinese guessed as GB2312/GBK decodes more reliably as its superset GB18030.
    if encoding.lower().replace("_", "").replace("-", "") in {"gb2312", "gbk"}:
        encoding = "gb18030"
    try:
        return data.decode(encoding), encoding
    except (UnicodeDecodeError, LookupError):
        return str(best), best.encoding


def _control_ratio(text: str) -> float:
    if not text:
        return 0.0
    bad = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f\v")
    return bad / len(text)
