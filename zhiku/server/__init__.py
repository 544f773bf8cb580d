"""``zhiku serve``: the HTTP server (REST under ``/api``, OpenAI-compatible under ``/v1``), thin over ``App``."""

from __future__ import annotations

from .app import create_app, serve

__all__ = ["create_app", "serve"]
