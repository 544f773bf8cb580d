"""An organisation's own synonyms: 饭补 is 餐补, "CISO" is "chief information security officer".

Retrieval and the evidence gate are lexical: a question that names a thing in other words than the
documents do finds weaker passages and is refused ("每个月饭补有多少钱？" over "每月 600 元餐补"). The
operator lists the words that mean the same in their organisation in a text file
(``ZHIKU_SYNONYMS=/etc/zhiku/synonyms.txt``), one group per line::

    # the first word of a group is the one every other is read as
    餐补, 饭补, 伙食补贴
    CISO, chief information security officer, 首席信息安全官
    OA, office automation

Words are separated by commas (or tabs); a word may be a phrase. Every text zhiku analyses (index
terms and questions alike) has each variant replaced by its group's first word before it is cut into
terms, so both sides meet; what is quoted to the reader stays as written. Matching ignores case, and
a Latin variant matches whole words only ("OA" is not found in "boat"). Changing the file changes the
index (``App.pipeline``): the next ``zhiku add`` or ``sync`` re-analyses every document.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from .errors import ConfigError


class Synonyms:
    """``synonyms(text)``: lower-cased ``text`` with every variant replaced by its group's first word."""

    def __init__(self, groups: list[list[str]]) -> None:
        self.groups = [[" ".join(w.lower().split()) for w in group] for group in groups if len(group) > 1]
        self._canonical = {v: group[0] for group in self.groups for v in group[1:] if v != group[0]}
        variants = sorted(self._canonical, key=len, reverse=True)  # the longest phrase wins
        self._regex = re.compile("|".join(_pattern(v) for v in variants)) if variants else None

    @classmethod
    def load(cls, path: Path) -> Synonyms:
        """Read a synonyms file (see the module's docstring); ``ConfigError`` if it cannot be read."""
        try:
            text = path.expanduser().read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"ZHIKU_SYNONYMS: cannot read {path} ({exc}); give a UTF-8 text file") from exc
        groups = []
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                groups.append([w.strip() for w in re.split(r"[,，\t;；]", line) if w.strip()])
        return cls(groups)

    @property
    def fingerprint(self) -> str:
        """Short hash of the groups: part of the pipeline id, so a changed file re-indexes."""
        return hashlib.sha256(repr(self.groups).encode()).hexdigest()[:8] if self.groups else ""

    def __bool__(self) -> bool:
        return self._regex is not None

    def __call__(self, text: str) -> str:
        if self._regex is None:
            return text
        return self._regex.sub(lambda m: self._canonical[" ".join(m.group().split())], text)


def _pattern(variant: str) -> str:
    """The regex of one (lower-cased) variant: whole words for Latin ends, any run of spaces inside."""
    body = r"\s+".join(re.escape(part) for part in variant.split())
    start = r"(?<![a-z0-9])" if re.match(r"[a-z0-9]", variant) else ""
    end = r"(?![a-z0-9])" if re.search(r"[a-z0-9]$", variant) else ""
    return start + body + end


def load_synonyms(path: Path | None) -> Synonyms:
    """The synonyms of ``Settings.synonyms`` (none when it is not set)."""
    return Synonyms.load(path) if path is not None else Synonyms([])
