"""E-mail (.eml, RFC 5322) via the standard library: subject heading, header block, body, attachments.

The body is the text/plain part when it has text, else the HTML part read by the HTML parser's
logic. Charsets are handled for real-world Chinese mail: GB2312/GBK declarations are read as their
superset GB18030 (mail clients declare GB2312 and send GBK characters), Big5 as Big5-HKSCS, and
undeclared or wrong charsets (raw 8-bit headers included) are detected from the bytes.

Attachments, nested messages (``message/rfc822``) included, are returned as
``ParsedDocument.attachments`` so ingestion indexes each as a document of its own; inline images
(pictures in an HTML body) are skipped.
"""

from __future__ import annotations

import email
import mimetypes
import re
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header
from email.message import Message
from email.utils import parsedate_to_datetime
from pathlib import Path

from ..errors import ParseError
from ..types import Attachment, Block, Locator, ParsedDocument
from .base import decode_text, one_line
from .html import html_blocks
from .text import split_paragraphs

_HEADERS = ("From", "To", "Cc", "Date", "Subject")
# Declared charsets that are really narrower than what senders put in them.
_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "euc-cn": "gb18030",
    "big5": "big5hkscs",
    "x-big5": "big5hkscs",
    "cn-big5": "big5hkscs",
    "ks_c_5601-1987": "cp949",
    "us-ascii": "utf-8",  # mislabelled 8-bit mail is far more often UTF-8 than anything else
    "ascii": "utf-8",
}
_UNSAFE_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')
_MAX_PARTS = 1000  # a message with more MIME parts than this is hostile or broken


def decode_bytes(data: bytes, declared: str | None) -> str:
    """Bytes in a declared (possibly wrong or missing) charset as text; never raises."""
    charset = (declared or "").strip().strip('"').lower()
    charset = _CHARSET_ALIASES.get(charset, charset)
    if charset and charset not in ("unknown-8bit", "x-unknown", "8bit"):
        try:
            return data.decode(charset)
        except (UnicodeDecodeError, LookupError):
            pass
    try:
        return decode_text(data)[0]
    except ParseError:  # not text in any encoding: keep what can be read
        return data.decode(charset if _known(charset) else "utf-8", errors="replace")


def _known(charset: str) -> bool:
    """True when Python has a codec for ``charset``."""
    if not charset:
        return False
    try:
        "".encode(charset)
    except LookupError:
        return False
    return True


def decode_header_value(raw: str, fallback_charset: str | None) -> str:
    """A header as text: RFC 2047 encoded words decoded with forgiving charsets, raw 8-bit bytes
    (which the parser keeps as surrogate escapes) decoded with the message's charset or detected."""
    try:
        pieces = decode_header(raw)
    except Exception:  # malformed encoded words: keep the raw text rather than lose the header
        pieces = [(raw, None)]
    out: list[str] = []
    for value, charset in pieces:
        if isinstance(value, str):
            if any("\udc80" <= ch <= "\udcff" for ch in value):
                value = decode_bytes(value.encode("utf-8", "surrogateescape"), fallback_charset)
            out.append(value)
        else:
            out.append(decode_bytes(value, charset or fallback_charset))
    # decode_header drops the whitespace between an encoded word and plain text: put it back.
    text = ""
    for piece in out:
        text = f"{text} {piece}" if text and not text.endswith(" ") and not piece.startswith(" ") else text + piece
    return one_line(text)


def _safe_name(name: str, fallback: str) -> str:
    name = _UNSAFE_NAME.sub("_", one_line(name)).strip(" ._")
    return name[:150] or fallback


@dataclass
class _Walk:
    """What a walk over the MIME tree found."""

    # (subtype, alternative group or 0, text) in order; parts of one multipart/alternative share a group
    texts: list[tuple[str, int, str]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    charset: str | None = None


def _walk(msg: Message, fallback_charset: str | None) -> _Walk:
    found = _Walk()
    stack: list[tuple[Message, int]] = [(msg, 0)]
    parts = 0
    while stack:
        part, group = stack.pop()
        parts += 1
        if parts > _MAX_PARTS:
            raise ParseError(f"more than {_MAX_PARTS} MIME parts; the message is malformed")
        ctype = part.get_content_type()
        if part.is_multipart() and ctype != "message/rfc822":
            children = part.get_payload()
            if isinstance(children, list):
                # Everything under a multipart/alternative (an HTML part inside multipart/related
                # too) is one rendering of the same body.
                child_group = parts if ctype == "multipart/alternative" else group
                stack.extend((child, child_group) for child in reversed(children) if isinstance(child, Message))
            continue
        disposition = part.get_content_disposition()
        filename = part.get_filename()
        if filename:
            filename = decode_header_value(filename, fallback_charset)
        if ctype == "message/rfc822":
            found.attachments.append(_nested_message(part, len(found.attachments) + 1, fallback_charset))
            continue
        if ctype.startswith("text/") and not filename and disposition != "attachment":
            if ctype in ("text/plain", "text/html"):
                payload = part.get_payload(decode=True)
                data = payload if isinstance(payload, bytes) else b""
                found.charset = found.charset or part.get_content_charset()
                text = decode_bytes(data, part.get_content_charset() or fallback_charset)
                found.texts.append((ctype.split("/")[1], group, text))
            continue
        if ctype.startswith("image/") and disposition != "attachment" and (part.get("Content-ID") or not filename):
            continue  # a picture shown inside the body, not a document
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes) or not payload:
            continue
        n = len(found.attachments) + 1
        ext = mimetypes.guess_extension(ctype) or ".bin"
        found.attachments.append(Attachment(_safe_name(filename or "", f"attachment-{n}{ext}"), payload))
    return found


def _nested_message(part: Message, n: int, fallback_charset: str | None) -> Attachment:
    """An attached e-mail as ``<subject>.eml`` with its own bytes, to be parsed as its own document."""
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    if isinstance(inner, Message):
        try:
            data = inner.as_bytes(policy=policy.compat32)
        except Exception:  # headers the generator cannot re-serialise: keep what we can
            data = inner.as_string(policy=policy.compat32).encode("utf-8", "surrogateescape")
        raw_subject = next((str(v) for k, v in inner.raw_items() if k.lower() == "subject"), "")
        subject = decode_header_value(raw_subject, fallback_charset)
    else:
        raw = part.get_payload(decode=True)
        data = raw if isinstance(raw, bytes) else b""
        subject = ""
    return Attachment(_safe_name(subject, f"message-{n}") + ".eml", data)


def _body_blocks(texts: list[tuple[str, int, str]], heading_path: list[str]) -> list[Block]:
    """Body blocks; of the renderings in one multipart/alternative, the plain text unless it is empty."""
    with_plain = {group for kind, group, text in texts if group and kind == "plain" and text.strip()}
    blocks: list[Block] = []
    for kind, group, text in texts:
        if group in with_plain and kind == "html":
            continue
        if kind == "html":
            _, html = html_blocks(text)
            for block in html:
                block.locator.heading_path = heading_path + block.locator.heading_path
            blocks.extend(html)
        else:
            blocks.extend(
                Block("paragraph", p, locator=Locator(heading_path=list(heading_path))) for p in split_paragraphs(text)
            )
    return blocks


def _guess_charset(msg: Message, raw_headers: dict[str, str]) -> str | None:
    """The charset to assume for undeclared 8-bit text: the first declared one, else the encoding
    detected over all raw header and body bytes together (a short header alone is too little to
    tell GBK from Big5 or Korean)."""
    for part in msg.walk():
        if part.get_content_charset():
            return part.get_content_charset()
    sample = b"".join(v.encode("utf-8", "surrogateescape") + b"\n" for v in raw_headers.values())
    for part in msg.walk():
        if part.get_content_maintype() == "text" and not part.is_multipart():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                sample += payload[:65536]
    if sample.isascii():
        return None
    try:
        return decode_text(sample)[1]
    except ParseError:
        return None


class EmlParser:
    """Reads ``.eml`` files; the title is the subject."""

    def parse(self, path: Path) -> ParsedDocument:
        """Parse ``path`` into a subject heading, a header block, the body and attachments."""
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        # Raw header values, decoded here rather than by the policy: the policy decodes encoded words
        # with the declared charset only and turns undeclared 8-bit bytes into replacement marks.
        raw_headers: dict[str, str] = {}
        for key, value in msg.raw_items():
            raw_headers.setdefault(key.lower(), str(value))
        if not any(h in raw_headers for h in ("from", "to", "subject", "date", "message-id")):
            raise ParseError(f"{path.name}: not an e-mail message (no From/To/Subject/Date header found)")
        charset = _guess_charset(msg, raw_headers)
        headers = {
            h: decode_header_value(raw_headers[h.lower()], charset) for h in _HEADERS if h.lower() in raw_headers
        }
        subject = headers.get("Subject", "") or path.stem
        walk = _walk(msg, charset)
        path_ = [subject]
        blocks = [Block("heading", subject, level=1, locator=Locator(heading_path=list(path_)))]
        header_text = "\n".join(f"{h}: {v}" for h, v in headers.items() if v)
        blocks.append(Block("paragraph", header_text, locator=Locator(heading_path=list(path_))))
        blocks.extend(_body_blocks(walk.texts, path_))
        if walk.attachments:
            names = ", ".join(a.name for a in walk.attachments)
            blocks.append(Block("paragraph", f"Attachments: {names}", locator=Locator(heading_path=list(path_))))
        metadata: dict[str, object] = {k.lower(): v for k, v in headers.items()}
        metadata["attachments"] = [a.name for a in walk.attachments]
        try:
            metadata["date_iso"] = parsedate_to_datetime(headers["Date"]).isoformat() if "Date" in headers else ""
        except (TypeError, ValueError, IndexError):
            metadata["date_iso"] = ""
        doc = ParsedDocument.from_blocks(blocks, title=subject, metadata=metadata)
        doc.attachments = walk.attachments
        return doc
