"""Pieces shared by the REST and the OpenAI-compatible routes: the ``App`` dependency, errors, SSE."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request

from ..answer import AnswerEvent
from ..app import App
from ..errors import AlreadyExists, LLMError, NotFound, StoreUnavailable, ZhikuError
from .schemas import ErrorResponse

#: The documented 422: the error shape every route returns (FastAPI would list its own, which we
#: never send: the validation handler in ``server.app`` renders it as ``{"error": ...}``).
INVALID_BODY: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorResponse, "description": "The body or a parameter is invalid (the message names it)."}
}


def get_zhiku(request: Request) -> App:
    """The ``App`` the server was created with (``create_app`` puts it in ``app.state.zhiku``)."""
    zhiku: App = request.app.state.zhiku
    return zhiku


ZhikuApp = Annotated[App, Depends(get_zhiku)]


class ApiError(Exception):
    """An error raised by the HTTP layer itself, rendered as ``{"error": {message, type, code}}``."""

    def __init__(self, status: int, message: str, type: str = "invalid_request", code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code


def error_body(message: str, type: str, code: str | None = None) -> dict[str, Any]:
    """The error JSON every route returns."""
    error: dict[str, Any] = {"message": message, "type": type}
    if code is not None:
        error["code"] = code
    return {"error": error}


def classify(exc: ZhikuError, *, openai: bool = False) -> tuple[int, str, str | None]:
    """HTTP status, error type and code for a zhiku error (OpenAI's vocabulary on ``/v1``)."""
    if isinstance(exc, NotFound):
        return 404, "invalid_request_error" if openai else "not_found", "not_found" if openai else None
    if isinstance(exc, AlreadyExists):
        return 409, "invalid_request_error" if openai else "already_exists", "already_exists" if openai else None
    if isinstance(exc, LLMError):
        return 502, "api_error" if openai else "llm_error", "llm_error" if openai else None
    if isinstance(exc, StoreUnavailable):
        return 503, "api_error" if openai else "store_unavailable", "store_unavailable" if openai else None
    return 400, "invalid_request_error" if openai else "invalid_request", None


def hint(exc: ZhikuError) -> str:
    """The error's own message plus, for HTTP callers, where to look next."""
    message = str(exc)
    if isinstance(exc, NotFound) and message.startswith("no knowledge base named"):
        return f"{message} (over HTTP: GET /api/kbs lists knowledge bases, POST /api/kbs creates one)"
    if isinstance(exc, NotFound) and message.startswith("document ") and "knowledge base" in message:
        return f"{message} (GET /api/kbs/{{name}}/documents lists its documents)"
    if isinstance(exc, LLMError):
        return f"{message} (the language model endpoint failed: check ZHIKU_LLM_BASE_URL and that it is up)"
    return message


def sse(data: Any, event: str | None = None) -> str:
    """One server-sent event; ``data`` is JSON-encoded unless it is already a string."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n"


def primed(events: Iterator[AnswerEvent]) -> Iterator[AnswerEvent]:
    """Run the generator up to its first event now, so errors (unknown KB, ...) become HTTP errors.

    ``App.ask_stream`` searches lazily; without this a missing knowledge base would only surface
    after the 200 response and its headers were already sent.
    """
    try:
        first = next(events)
    except StopIteration:
        return iter(())

    def chain() -> Iterator[AnswerEvent]:
        yield first
        yield from events

    return chain()
