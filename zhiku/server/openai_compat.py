"""The OpenAI-compatible API: every knowledge base is a model ``kb:<name>``.

``POST /v1/chat/completions`` takes the last user message as the question and the earlier user and
assistant messages as the history. Answers are standard ``chat.completion`` objects (or
``chat.completion.chunk`` server-sent events) with one extra top-level field, ``zhiku``, holding the
citations and grounding scores; OpenAI clients ignore it, and the official SDK exposes it through
``model_extra`` / ``model_dump()``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from ..answer import AnswerEvent
from ..app import App
from ..errors import NotFound, ZhikuError
from ..types import Answer, KnowledgeBase
from .common import INVALID_BODY, ApiError, ZhikuApp, classify, error_body, hint, primed, sse
from .schemas import ChatCompletion, ChatCompletionRequest, ChatMessage, ErrorResponse, ModelCard, ModelList

MODEL_PREFIX = "kb:"

router = APIRouter(
    prefix="/v1",
    tags=["openai"],
    responses={
        400: {"model": ErrorResponse, "description": "Invalid request."},
        404: {"model": ErrorResponse, "description": "Unknown model (code model_not_found)."},
        **INVALID_BODY,
    },
)


def model_id(kb_name: str) -> str:
    """The OpenAI model id of a knowledge base."""
    return MODEL_PREFIX + kb_name


def kb_name(model: str) -> str:
    """The knowledge base a model id names: ``kb:handbook`` and ``handbook`` both mean ``handbook``."""
    return model[len(MODEL_PREFIX) :] if model.startswith(MODEL_PREFIX) else model


def _resolve(zhiku: App, model: str) -> KnowledgeBase:
    """The knowledge base ``model`` names, or a 404 ``model_not_found`` in OpenAI's error shape."""
    try:
        return zhiku.get_kb(kb_name(model))
    except NotFound:
        raise ApiError(
            404,
            f"The model {model!r} does not exist: models are knowledge bases named kb:<name>. "
            "GET /v1/models lists them; POST /api/kbs creates one.",
            "invalid_request_error",
            "model_not_found",
        ) from None


@router.get("/models", summary="List models (one per knowledge base)", response_model=ModelList)
def list_models(zhiku: ZhikuApp) -> ModelList:
    """Every knowledge base as a model ``kb:<name>``."""
    cards = [ModelCard(id=model_id(kb.name), created=int(kb.created_at)) for kb in zhiku.list_kbs()]
    return ModelList(data=cards)


@router.get("/models/{model}", summary="Retrieve a model", response_model=ModelCard)
def get_model(model: str, zhiku: ZhikuApp) -> ModelCard:
    """One knowledge base as a model; 404 ``model_not_found`` if there is none of that name."""
    kb = _resolve(zhiku, model)
    return ModelCard(id=model_id(kb.name), created=int(kb.created_at))


def _text(message: ChatMessage) -> str:
    """A message's text: a plain string, or the text parts of a list of content parts."""
    if message.content is None:
        return ""
    if isinstance(message.content, str):
        return message.content
    return "\n".join(str(p.get("text", "")) for p in message.content if p.get("type") in ("text", "input_text"))


_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


def refuse_unsupported(extra: dict[str, Any]) -> None:
    """A 400 for what a client asks and would not get: several choices, a forced tool call, JSON
    output. Other unknown fields (sampling, ``user``, ``tools`` left to the model's choice) are
    ignored, as documented. These came back as one prose answer with a 200 (API trial)."""
    n = extra.get("n")
    if n not in (None, 1):
        raise ApiError(400, "n: zhiku returns one answer per request (n = 1)", "invalid_request_error")
    choice = extra.get("tool_choice")
    if choice not in (None, "none", "auto"):
        raise ApiError(
            400, "tool_choice: zhiku answers from the knowledge base and calls no tools", "invalid_request_error"
        )
    fmt = extra.get("response_format")
    kind = fmt.get("type", "text") if isinstance(fmt, dict) else "text"
    if kind != "text":
        raise ApiError(400, f"response_format {kind!r}: zhiku answers in text with citations", "invalid_request_error")


def split_messages(messages: list[ChatMessage]) -> tuple[str, list[dict[str, str]]]:
    """The question (last user message) and the history (earlier user/assistant messages)."""
    unknown = sorted({m.role for m in messages} - _ROLES)
    if unknown:
        raise ApiError(
            400,
            f"unknown message role {unknown[0]!r}: use system, developer, user, assistant or tool",
            "invalid_request_error",
        )
    last = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].role == "user"), None)
    if last is None or not _text(messages[last]).strip():
        raise ApiError(400, "messages must contain a user message with the question", "invalid_request_error")
    history = [
        {"role": m.role, "content": _text(m)} for m in messages[:last] if m.role in ("user", "assistant") and _text(m)
    ]
    return _text(messages[last]), history


def zhiku_extra(answer: Answer) -> dict[str, Any]:
    """The extra top-level ``zhiku`` field: citations and how well they support the answer."""
    # Everything of ``Answer.to_dict`` but what the OpenAI response already carries (the question,
    # the text as the message content, the usage): a field added to answers reaches this one too.
    return {k: v for k, v in answer.to_dict().items() if k not in ("question", "answer", "usage")}


def _finish_reason(answer: Answer) -> str:
    """OpenAI's ``finish_reason``: ``length`` when the model was cut off at its token limit."""
    return "length" if answer.truncated else "stop"


def _usage(answer: Answer) -> dict[str, int]:
    u = answer.usage
    return {
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.output_tokens,
    }


@router.post(
    "/chat/completions",
    summary="Chat completion over a knowledge base",
    response_model=ChatCompletion,
    responses={
        200: {
            "description": "A chat.completion object or, with stream=true, chat.completion.chunk events.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        502: {"model": ErrorResponse, "description": "The language model endpoint failed."},
    },
)
def chat_completions(body: ChatCompletionRequest, zhiku: ZhikuApp) -> Any:
    """Answer the last user message from the knowledge base named by ``model``.

    Earlier user/assistant messages are the conversation history (for follow-up questions); system
    messages are ignored (the knowledge base decides what is true). The response carries the extra
    field ``zhiku`` with ``citations``, ``refused``, ``grounding``, ``evidence``, ``rerank``,
    ``sentences``, ``mode``, ``language``, ``notes`` and ``related``.
    ``extra_body={"zhiku": {"mode": "bm25", "path_glob": "*.md"}}`` chooses the retrieval mode and
    restricts the documents searched.
    """
    name = _resolve(zhiku, body.model).name
    refuse_unsupported(body.model_extra or {})
    question, history = split_messages(body.messages)
    options = body.zhiku
    mode = options.mode if options else "hybrid"
    path_glob = options.path_glob if options else None
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    model = model_id(name)
    if not body.stream:
        answer = zhiku.ask(name, question, history=history, mode=mode, path_glob=path_glob)
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer.text},
                    "finish_reason": _finish_reason(answer),
                }
            ],
            "usage": _usage(answer),
            "zhiku": zhiku_extra(answer),
        }
    events = primed(zhiku.ask_stream(name, question, history=history, mode=mode, path_glob=path_glob))
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    chunks = _chunks(events, completion_id, created, model, include_usage)
    return StreamingResponse(chunks, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


def _chunks(
    events: Iterator[AnswerEvent], completion_id: str, created: int, model: str, include_usage: bool
) -> Iterator[str]:
    """``chat.completion.chunk`` events: role, content deltas, stop (+ ``zhiku``), usage, ``[DONE]``."""
    base: dict[str, Any] = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model}
    if include_usage:
        base["usage"] = None

    def chunk(delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> str:
        return sse({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}], **extra})

    yield chunk({"role": "assistant", "content": ""})
    try:
        for event in events:
            if event.kind == "delta" and event.text:
                yield chunk({"content": event.text})
            elif event.kind == "answer" and event.answer is not None:
                yield chunk({}, _finish_reason(event.answer), zhiku=zhiku_extra(event.answer))
                if include_usage:
                    yield sse({**base, "choices": [], "usage": _usage(event.answer)})
    except ZhikuError as exc:
        _, type_, code = classify(exc, openai=True)
        yield sse(error_body(hint(exc), type_, code))
    yield sse("[DONE]")
