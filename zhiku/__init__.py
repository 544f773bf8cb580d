"""zhiku (智库): grounded, cited answers over your documents, in Chinese and English.

``App`` and ``Settings`` are imported on first use: parser worker processes import ``zhiku.worker``
and must not pay for the whole application (store, server, embedders) to parse a file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .types import Answer, Chunk, Citation, Hit, Locator, ParsedDocument

if TYPE_CHECKING:
    from .app import App
    from .settings import Settings

__version__ = "0.1.0"
__all__ = ["Answer", "App", "Chunk", "Citation", "Hit", "Locator", "ParsedDocument", "Settings", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "App":
        from .app import App

        return App
    if name == "Settings":
        from .settings import Settings

        return Settings
    raise AttributeError(f"module 'zhiku' has no attribute {name!r}")
