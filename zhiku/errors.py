"""Exceptions with messages meant for the person at the keyboard: each says what to do next."""


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
