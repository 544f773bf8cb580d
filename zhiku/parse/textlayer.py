"""Is a PDF text layer usable? Quality scoring and the fake-bold repair.

A PDF can carry text that is not the text you see: fonts without a Unicode map give private-use
or control characters, broken encodings give symbol soup, and "fake bold" (each glyph painted
twice, slightly offset) gives ``TThhee  ppoolliiccyy``. The first two call for OCR; the last is
repaired in place because the characters are right, just doubled.
"""

from __future__ import annotations

import re

import numpy as np

#: Characters that never belong to real extracted text: private use, replacement character, C0/C1
#: controls (whitespace excepted), noncharacters.
_UNUSABLE = re.compile("[\ue000-\uf8ff\ufffd\ufffe\uffff\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\U000f0000-\U0010ffff]")
#: Neither a word character (letter of any script, digit) nor whitespace.
_SYMBOL = re.compile(r"[^\w\s]")
_PAIR = re.compile(r"(\S)\1")
#: Three doubled characters in a row (``TThhee``): a fake-bold line must contain such a run.
_DOUBLED_RUN = re.compile(r"(\S)\1(\S)\2(\S)\3")


def text_layer_quality(text: str) -> float:
    """A score from 0 (garbage) to 1 (clean) for text extracted from a page.

    It is the share of usable characters, lowered further when fewer than half of the non-space
    characters are letters or digits (symbol soup from a broken font encoding). Empty text scores
    0. Fake-bold doubling is not penalised here: ``undouble`` repairs it first. Cheap enough to run
    on every page: regular expressions only, over at most 3,000 characters from the middle of the
    page (a broken font garbles a whole page, not one corner of it).
    """
    if len(text) > 3000:
        middle = len(text) // 2
        text = text[middle - 1500 : middle + 1500]
    total = len(text) - sum(text.count(ch) for ch in " \r\n\t\u3000\xa0")
    # pdfium marks soft hyphens with U+FFFE / U+0002; they are layout hints, not garbage.
    total -= text.count("\ufffe") + text.count("\x02")
    if total <= 0:
        return 0.0
    unusable = len(_UNUSABLE.findall(text)) - text.count("\ufffe") - text.count("\x02")
    usable = 1.0 - unusable / total
    wordlike = 1.0 - len(_SYMBOL.findall(text)) / total
    return round(max(0.0, usable * min(1.0, wordlike * 2)), 4)


def may_be_doubled(text: str) -> bool:
    """Cheap test on a whole page: could any of its lines be fake-bold (see ``undouble``)?

    The same answer as searching for ``_DOUBLED_RUN`` (three doubled non-space characters in a
    row), but on a long page numpy compares the code points: the regular expression tries its
    back-references at every position, a large part of the text-layer checks on a text page.
    """
    if len(text) < 2000:
        return _DOUBLED_RUN.search(text) is not None
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    pair = points[:-1] == points[1:]  # pair[i]: character i is repeated at i + 1
    runs = np.flatnonzero(pair[:-4] & pair[2:-2] & pair[4:] & (points[:-5] != 32))
    return any(not (text[i].isspace() or text[i + 2].isspace() or text[i + 4].isspace()) for i in runs.tolist())


def is_doubled(token: str) -> bool:
    """True when every character of ``token`` appears twice in a row (``TThhee``)."""
    n = len(token)
    return n >= 2 and n % 2 == 0 and token[0::2] == token[1::2]


def undouble(line: str) -> str:
    """Repair fake-bold text: when (nearly) every word of the line is doubled, halve the words.

    Ordinary text keeps its doubled letters (``ll`` in *all*, ``ee`` in *see*) because it is only
    repaired when at least 90% of its characters sit in fully doubled words and there are 6 or
    more of them.
    """
    if not _PAIR.search(line):
        return line
    tokens = line.split()
    doubled = sum(len(t) for t in tokens if is_doubled(t))
    total = sum(len(t) for t in tokens)
    if total < 6 or doubled < 0.9 * total:
        return line
    return " ".join(t[0::2] if is_doubled(t) else t for t in tokens)
