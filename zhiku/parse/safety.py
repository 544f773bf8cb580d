"""Checks on hostile containers, run before any third-party library opens the file.

DOCX, XLSX and PPTX are ZIP archives. A few kilobytes of ZIP can expand to gigabytes (a
decompression bomb) or hold millions of entries; python-docx, openpyxl and python-pptx would try to
read them all into memory. ``check_zip`` reads only the archive's directory (the declared sizes of
its entries) and refuses archives over the limits with a message that says what to raise if the file
is genuine. Declared sizes are enough: Python's ``zipfile``, which every one of those libraries reads
through, never returns more bytes than an entry declares (it stops there and checks the CRC), so an
entry that lies about its size cannot expand past what was checked here.
"""

from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from ..errors import ParseError

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["ZIP_MAGIC", "ZipLimits", "check_zip"]

ZIP_MAGIC = b"PK\x03\x04"
_MB = 1024 * 1024
_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"
# Only entries at least this large are checked for their compression ratio: tiny parts (an empty
# relationship file, a run of spaces) legitimately compress by huge factors and do no harm.
_RATIO_MIN_BYTES = 10 * _MB


@dataclass(frozen=True)
class ZipLimits:
    """Limits on a ZIP container's contents (defaults = the ``Settings`` defaults)."""

    #: Sum of all entries' uncompressed sizes.
    max_unzipped_bytes: int = 500 * _MB
    #: Largest single entry, uncompressed (one XML part is parsed into memory whole).
    max_entry_bytes: int = 250 * _MB
    #: Number of entries in the archive.
    max_entries: int = 10_000
    #: Uncompressed / compressed size of one entry of 10 MB or more. Office XML compresses 5-30x.
    max_ratio: float = 200.0

    @classmethod
    def from_settings(cls, settings: Settings) -> ZipLimits:
        """The limits configured in ``settings`` (``ZHIKU_MAX_UNZIPPED_MB`` and friends)."""
        return cls(
            max_unzipped_bytes=int(settings.max_unzipped_mb * _MB),
            max_entry_bytes=int(settings.max_zip_entry_mb * _MB),
            max_entries=settings.max_zip_entries,
            max_ratio=settings.max_zip_ratio,
        )


def check_zip(path: Path, limits: ZipLimits | None = None) -> None:
    """Refuse a ZIP container that is corrupt beyond reading or exceeds ``limits``.

    Raises ``ParseError`` naming the file, what is wrong and which setting to raise if the file is
    genuine; returns None for an archive within the limits.
    """
    limits = limits or ZipLimits()
    name = path.name
    bomb = "a likely decompression bomb"
    try:
        with path.open("rb") as fh:
            declared = _declared_entries(fh)
            if declared is not None and declared > limits.max_entries:
                raise ParseError(
                    f"{name}: refused: archive has {declared:,} entries (> limit {limits.max_entries:,}), {bomb}; "
                    "raise ZHIKU_MAX_ZIP_ENTRIES if it is genuine"
                )
            with zipfile.ZipFile(fh) as zf:
                infos = zf.infolist()
    except ParseError:
        raise
    except Exception as exc:  # zipfile raises many types on hostile directories; callers rely on ParseError
        kind = path.suffix.lstrip(".").upper() or "ZIP"
        raise ParseError(
            f"{name}: corrupt or truncated {kind} file (unreadable ZIP container): {_reason(exc)}"
        ) from exc
    if len(infos) > limits.max_entries:
        raise ParseError(
            f"{name}: refused: archive has {len(infos):,} entries (> limit {limits.max_entries:,}), {bomb}; "
            "raise ZHIKU_MAX_ZIP_ENTRIES if it is genuine"
        )
    total = sum(info.file_size for info in infos)
    if total > limits.max_unzipped_bytes:
        raise ParseError(
            f"{name}: refused: archive expands to {_size(total)} (> limit {_size(limits.max_unzipped_bytes)}), "
            f"{bomb}; raise ZHIKU_MAX_UNZIPPED_MB if it is genuine"
        )
    for info in infos:
        size = info.file_size
        if size > limits.max_entry_bytes:
            raise ParseError(
                f"{name}: refused: entry {info.filename} expands to {_size(size)} "
                f"(> limit {_size(limits.max_entry_bytes)}), {bomb}; raise ZHIKU_MAX_ZIP_ENTRY_MB if it is genuine"
            )
        if size >= _RATIO_MIN_BYTES and size > limits.max_ratio * max(info.compress_size, 1):
            ratio = size / max(info.compress_size, 1)
            raise ParseError(
                f"{name}: refused: entry {info.filename} expands {ratio:,.0f}x ({_size(info.compress_size)} -> "
                f"{_size(size)}; limit {limits.max_ratio:,.0f}x), {bomb}; raise ZHIKU_MAX_ZIP_RATIO if it is genuine"
            )


def _declared_entries(fh: BinaryIO) -> int | None:
    """The entry count the end-of-central-directory record declares, read without parsing the directory.

    ``zipfile`` builds an object per entry when it opens an archive; an archive with millions of
    entries must be refused before that. None when the record is not found (the caller's
    ``ZipFile`` then reports the archive as corrupt).
    """
    fh.seek(0, 2)
    size = fh.tell()
    tail_len = min(size, 22 + 0xFFFF)  # the record (22 bytes) plus the longest possible comment
    fh.seek(size - tail_len)
    tail = fh.read(tail_len)
    pos = tail.rfind(_EOCD)
    if pos < 0 or len(tail) - pos < 22:
        return None
    (total,) = struct.unpack_from("<H", tail, pos + 10)
    locator = pos - 20
    if total == 0xFFFF and locator >= 0 and tail[locator : locator + 4] == _EOCD64_LOCATOR:
        # ZIP64: the real count is in the ZIP64 end record the locator points at.
        (offset,) = struct.unpack_from("<Q", tail, locator + 8)
        fh.seek(offset)
        record = fh.read(56)
        if len(record) == 56 and record[:4] == _EOCD64:
            (total,) = struct.unpack_from("<Q", record, 32)
    return int(total)


def _size(n: int) -> str:
    if n >= 1024 * _MB:
        return f"{n / (1024 * _MB):.1f} GB"
    if n >= _MB:
        return f"{n / _MB:.0f} MB"
    if n >= 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n} bytes"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
