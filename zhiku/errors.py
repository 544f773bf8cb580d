"""Exceptions with messages meant for the person at the keyboard: each says what to do next."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path


class ZhikuError(Exception):
    """Base class of every error zhiku raises on purpose."""


class ParseError(ZhikuError):
    """A file could not be read into text; the message says why (corrupt, encrypted, empty, ...)."""


class NotFound(ZhikuError):
    """A knowledge base, document or other named thing does not exist."""


class AlreadyExists(ZhikuError):
    """Creating something whose name is taken."""


class InvalidName(ZhikuError):
    """A name zhiku cannot use (a knowledge base named "a/b" could never be addressed in a URL)."""


class QueryTooLong(ZhikuError):
    """A question or search query longer than ``Settings.max_query_chars``."""


class EmptyQuery(ZhikuError):
    """A question or search query with nothing but white space in it."""


class ConfigError(ZhikuError):
    """Settings are missing or inconsistent."""


class MissingExtra(ZhikuError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(f"{module} is not installed: pip install 'zhiku[{extra}]'")


class StoreUnavailable(ZhikuError):
    """The store cannot be used: its file was deleted or replaced while zhiku ran, or it is unreadable."""


class LLMError(ZhikuError):
    """The language model endpoint failed or answered something unusable."""


def storage_problem(exc: BaseException, home: Path, database: Path) -> str | None:
    """What to tell the person when the disk or the SQLite file fails under zhiku (full disk,
    read-only or unwritable data directory, damaged store); None for any other error."""
    text = str(exc)
    code = getattr(exc, "errno", None)
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)) or "disk is full" in text or "No space left" in text:
        return (
            f"the disk holding {home} is full ({text}): free some space and run the command again; "
            "nothing written is lost (an interrupted add is resumed by the next one, or `zhiku jobs run`)"
        )
    if (
        code in (errno.EROFS, errno.EACCES, errno.EPERM)
        or "readonly database" in text
        or "unable to open database file" in text
    ):
        return (
            f"zhiku cannot write its data directory {home} ({text}): make it writable, or point "
            "ZHIKU_HOME (or --home) at a folder zhiku may write"
        )
    if isinstance(exc, sqlite3.DatabaseError) and ("malformed" in text or "not a database" in text):
        return (
            f"the store {database} is damaged ({text}): restore it from a backup, or move it away and "
            "index the documents again into a new, empty store"
        )
    return None
