"""Plain text: any common encoding (UTF-8/16 with or without BOM, GBK/GB18030, Big5), paragraphs
split at blank lines."""

from __future__ import annotations

import re
from pathlib import Path

from ..types import Block, ParsedDocument
from .base import clean_inline, decode_text

_BLANK_LINES = re.compile(r"\n[ \t\u3000]*\n")


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs are separated by one or more blank lines; inner whitespace is tidied."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    parts = (clean_inline(p) for p in _BLANK_LINES.split(text))
    return [p for p in parts if p]


class TextParser:
    """Reads ``.txt`` files; the title is the file name without its extension."""

    def parse(self, path: Path) -> ParsedDocument:
        """Decode and split ``path`` into paragraph blocks."""
        text, encoding = decode_text(path.read_bytes())
        blocks = [Block("paragraph", p) for p in split_paragraphs(text.lstrip("\ufeff"))]
        return ParsedDocument.from_blocks(blocks, title=path.stem, metadata={"encoding": encoding})
