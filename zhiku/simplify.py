"""Traditional Chinese read as Simplified, so 「香港辦事處在哪裡？」 finds 香港办事处 and the other way round.

jieba's dictionary, the stopword lists and the answer rules are written in Simplified characters: a
Traditional text cut by jieba falls apart into single characters, and a question in one script never
met a document in the other. Every text zhiku analyses (index terms, questions, the evidence read
from passages) goes through ``Simplifier`` first. What is quoted to the reader stays as written.

OpenCC's ``t2s`` conversion (phrase-aware: 乾隆 stays, 乾燥 becomes 干燥) runs only on a text that
holds at least one character OpenCC would change, so Simplified text is left exactly as it is (CMRC
2018's 211k characters: 10 of 424 paragraphs hold such a character). The conversion keeps every
character in its place, so positions found in the converted text are positions in the original.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from functools import cached_property
from typing import Any

from .traditional_chars import TRADITIONAL
from .types import Hit

#: CJK blocks whose characters may have a Simplified form (unified ideographs, extension A, compatibility).
_BLOCKS = ((0x3400, 0x4DC0), (0x4E00, 0xA000), (0xF900, 0xFB00))


class Simplifier:
    """``simplifier(text)``: ``text`` with Traditional characters in their Simplified form, same length."""

    @cached_property
    def _converter(self) -> Any:
        import opencc

        return opencc.OpenCC("t2s")

    @cached_property
    def _by_character(self) -> dict[int, str]:
        """One-character conversions, for the rare text whose phrase conversion changes its length."""
        convert = self._converter.convert
        table = {}
        for char in TRADITIONAL:
            simple = convert(char)
            if len(simple) == 1:
                table[ord(char)] = simple
        return table

    @cached_property
    def _to_traditional(self) -> Any:
        import opencc

        return opencc.OpenCC("s2t")

    @staticmethod
    def is_traditional(text: str) -> bool:
        """Whether ``text`` holds a Traditional character (a question asked in Traditional script)."""
        return _TRADITIONAL_RE.search(text) is not None

    def traditional(self, text: str) -> str:
        """``text`` (zhiku's own words: a refusal, a note) in Traditional characters, for a reader
        who asked in them."""
        return str(self._to_traditional.convert(text))

    def __call__(self, text: str) -> str:
        if not text or _TRADITIONAL_RE.search(text) is None:
            return text
        simple: str = self._converter.convert(text)
        if len(simple) != len(text):  # positions must stay valid: fall back to one character at a time
            simple = text.translate(self._by_character)
        return simple


_TRADITIONAL_RE = re.compile(f"[{TRADITIONAL}]")


def traditional_characters() -> str:
    """The characters the installed OpenCC ``t2s`` changes on their own (``TRADITIONAL`` is a copy)."""
    import opencc

    convert = opencc.OpenCC("t2s").convert
    return "".join(chr(c) for lo, hi in _BLOCKS for c in range(lo, hi) if convert(chr(c)) != chr(c))


def simplified_hit(hit: Hit, simplify: Callable[[str], str]) -> Hit:
    """``hit`` with its text and headings in Simplified characters, for reading it (its spans are
    those of the original); ``hit`` itself when nothing changes."""
    text, headings = simplify(hit.text), [simplify(h) for h in hit.locator.heading_path]
    if text == hit.text and headings == hit.locator.heading_path:
        return hit
    return replace(hit, text=text, locator=replace(hit.locator, heading_path=headings))
