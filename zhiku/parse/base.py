"""Helpers shared by the format parsers: heading paths, Markdown tables, text decoding, whitespace."""

from __future__ import annotations

import codecs
import re

from ..errors import ParseError
from ..tabletext import are_column_names

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


def split_title_row(rows: list[list[str]]) -> tuple[str, list[list[str]]]:
    """A table's title row split off: ``(title, rows)``, or ``("", rows)`` when it has none.

    A first row holding one text only (in one cell, or repeated across merged cells) above a header
    row (two or more cells, none of them a number) in a table of three or more columns is a title
    ("NICS Firearm Background Checks November - 2015", "2023年度部门预算表"), not a header: kept as
    the header, it would be the only "column name" every later chunk of the table repeats, and the
    real column names would read as data. A first row above numbers is data (a line item with no
    figures of its own, "一般风险准备", in a statement continued from the page before).
    """
    if len(rows) < 3 or len(rows[0]) < 3:
        return "", rows
    values = {c for c in rows[0] if c}
    if len(values) != 1 or not are_column_names(rows[1]):
        return "", rows
    return values.pop(), rows[1:]


def split_note_rows(rows: list[list[str]]) -> tuple[list[list[str]], list[str]]:
    """Trailing note rows split off a table: ``(rows, notes)``.

    A last row of one or two texts that opens with a note's label ("NOTES: DISCLAIMERS: | *Refers to
    frames, receivers and ...", "注：", "资料来源：") across a table of three or more columns is a note
    printed inside the table's frame. Left in, it reads as a data row whose cells sit under column
    names they have nothing to do with. A label and a long value ("上述股东关联关系的说明 | 就本公司
    知晓的范围内…") is data, and stays.
    """
    notes: list[str] = []
    while len(rows) > 2 and len(rows[-1]) >= 3:
        values = list(dict.fromkeys(c for c in rows[-1] if c))
        if not values or len(values) > 2 or not _NOTE_LABEL.match(values[0]):
            break
        notes.insert(0, " ".join(values))
        rows = rows[:-1]
    return rows, notes


#: How a note printed under a table opens.
_NOTE_LABEL = re.compile(
    r"\s*(?:\*|†|‡|(?:notes?|sources?|disclaimers?|footnotes?|remarks?)\b|注[：:①1]|注释|备注|说明[：:]|"
    r"(?:资料|数据)?来源[：:])",
    re.IGNORECASE,
)


def split_table(rows: list[list[str]]) -> tuple[str, list[list[str]], list[str]]:
    """``(title, rows, notes)``: a table with its title row and trailing note rows split off."""
    title, rows = split_title_row(rows)
    rows, notes = split_note_rows(rows)
    return title, rows, notes


def table_text(rows: list[list[str]], title: str = "") -> str:
    """A table block's text: its title line (when it has one), then the Markdown table."""
    table = render_table(rows)
    return f"{title}\n\n{table}" if title and table else table


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
    guess = best.encoding if best is not None and best.encoding else ""
    # Simplified Chinese guessed as GB2312/GBK decodes more reliably as its superset GB18030.
    if _codec_key(guess) in {"gb2312", "gbk"}:
        guess = "gb18030"
    # The detector is unreliable on short Chinese texts (4 GBK characters come back as Big5,
    # UTF-16 or Cyrillic), so those are re-scored against the Chinese encodings. Longer texts in
    # other encodings are trusted: Japanese, Korean, Thai or Russian bytes can also decode as
    # Chinese characters, and the detector knows those languages better than a character score.
    rescore = not guess or _codec_key(guess) in _CHINESE_FAMILY or len(data) < _SHORT_TEXT
    if guess and rescore and _codec_key(guess) in _JAPANESE_KOREAN:
        try:
            rescore = not _reads_as_japanese_or_korean(data.decode(guess))
        except (UnicodeDecodeError, LookupError):
            rescore = False
    if guess and not rescore:
        try:
            return data.decode(guess), guess
        except (UnicodeDecodeError, LookupError):
            return str(best), guess
    candidates = [guess, *_CHINESE_CANDIDATES] if guess else list(_CHINESE_CANDIDATES)
    scored: list[tuple[float, int, str, str]] = []
    for rank, encoding in enumerate(dict.fromkeys(candidates)):
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
        plausible, han = plausibility(text)
        # A small bonus for Chinese: "年假申請" (one rarer character) must beat "^tPGu3ЉЛ", the
        # same UTF-16 bytes read as Cyrillic, which is all letters and ASCII.
        if plausible >= _MIN_PLAUSIBLE or encoding == guess:
            scored.append((round(plausible + 0.1 * han, 3), -rank, encoding, text))
    if not scored:  # no detector guess and nothing reads as text: binary
        raise ParseError(BINARY_MESSAGE)
    _, _, encoding, text = max(scored)
    return text, encoding


_JAPANESE_KOREAN = frozenset(
    {"shiftjis", "cp932", "eucjp", "iso2022jp", "shiftjis2004", "eucjis2004", "euckr", "cp949", "johab", "iso2022kr"}
)
_CHINESE_CANDIDATES = ("gb18030", "big5hkscs", "utf-16-le", "utf-16-be")
_CHINESE_FAMILY = frozenset(
    {"gb18030", "gb2312", "gbk", "big5", "big5hkscs", "cp950", "hz", "utf16", "utf16le", "utf16be", "utf32"}
)
_SHORT_TEXT = 64  # bytes; below this the detector's guess is little better than chance
_MIN_PLAUSIBLE = 0.6  # a candidate decoding less text-like than this is noise
_SCORE_SAMPLE = 4000  # characters scored per candidate decoding


def _reads_as_japanese_or_korean(text: str) -> bool:
    """Whether a short Japanese/Korean guess looks real. Their byte ranges overlap GB2312 and Big5,
    so a Chinese text misread as Korean shows up as Hangul mixed with Chinese characters (modern
    Korean has almost none), and misread as Japanese as Chinese characters with hardly any kana."""
    # Korean code pages map many Hanja to the compatibility block (U+F900..U+FAFF).
    han = sum(1 for ch in text if 0x4E00 <= ord(ch) <= 0x9FFF or 0xF900 <= ord(ch) <= 0xFAFF)
    hangul = sum(1 for ch in text if 0xAC00 <= ord(ch) <= 0xD7A3)
    kana = sum(1 for ch in text if 0x3040 <= ord(ch) <= 0x30FF)
    letters = han + hangul + kana
    if not letters:
        return True
    # Loose jamo (ㅅ, ㅹ) and accented Latin letters (Ŧ) between syllables are what Big5 bytes read as
    # Korean look like ("停車場今日關閉。" as "갚Ŧ놓ㅅㅹ츙낚좧"); Korean prose has next to none.
    stray = sum(1 for ch in text if 0x3130 <= ord(ch) <= 0x318F or 0xC0 <= ord(ch) <= 0x24F)
    if stray > 0.1 * (letters + stray):
        return False
    if hangul >= kana:
        return han / letters <= 0.2
    return kana / letters >= 0.2


def _codec_key(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


def _han_weight(ch: str) -> float:
    """How ordinary a Han character is: 1.0 for the 3,755 level-1 GB2312 characters, 0.9 for the
    rest of GB2312 and the ~5,400 frequent Big5 characters, 0.5 for rare ones. Real Chinese text is
    made of the first two groups, while a wrong decoding produces rarer ones; characters that both
    scripts share sit in level 1, so a tie between GBK and Big5 goes to the right one."""
    try:
        gb = ch.encode("gb2312")
        return 1.0 if gb[0] <= 0xD7 else 0.9
    except UnicodeEncodeError:
        pass
    try:
        encoded = ch.encode("big5")
    except UnicodeEncodeError:
        return 0.5
    return 0.9 if len(encoded) == 2 and 0xA4 <= encoded[0] <= 0xC6 else 0.5


def plausibility(text: str) -> tuple[float, float]:
    """(how text-like, share of Han characters) of a decoding, both in 0..1.

    ASCII, CJK punctuation and European letters count fully, Han characters by how ordinary they are
    (``_han_weight``), anything else (box drawing, symbols, private use, controls) nothing.
    """
    sample = text[:_SCORE_SAMPLE]
    if not sample:
        return 0.0, 0.0
    score = 0.0
    han = 0
    for ch in sample:
        code = ord(ch)
        if code < 128:
            score += 1.0 if (ch.isprintable() or ch in "\t\n\r") else 0.0
        elif 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x3FFFF:
            han += 1
            score += _han_weight(ch)
        elif 0x3000 <= code <= 0x303F or 0xFF00 <= code <= 0xFFEF or ch in "\u2018\u2019\u201c\u201d\u2026\u2014\u00b7":
            score += 1.0
        elif (ch.isalpha() and code < 0x530) or ch in "\u00a0\u20ac\u00b0\u00d7":
            # Latin, Greek and Cyrillic letters, NBSP, euro, degree, multiplication sign. Hangul and
            # kana are left out: wrong UTF-16 readings of Chinese bytes are full of Hangul, and real
            # Korean or Japanese never gets here (trusted to the detector above).
            score += 1.0
    return score / len(sample), han / len(sample)


def _control_ratio(text: str) -> float:
    if not text:
        return 0.0
    bad = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f\v")
    return bad / len(text)
