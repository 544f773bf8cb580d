"""Language models behind the ``LLM`` protocol.

zhiku talks to any OpenAI-compatible ``/chat/completions`` endpoint (vLLM, Ollama, llama.cpp's
server, DeepSeek, Qwen, OpenAI...). With none configured, answers are extractive.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx

from ..errors import LLMError
from ..settings import Settings
from ..types import Usage

__all__ = ["OpenAICompatibleLLM", "create_llm"]


class OpenAICompatibleLLM:
    """A chat model reached over HTTP with the OpenAI protocol.

    Retries connection errors and 429/5xx answers with backoff (not a request left unanswered past the
    timeout: asking again would wait as long again); usage comes from the response's
    ``usage`` field (requested with ``stream_options.include_usage`` when streaming) and falls back
    to an estimate when the server does not report it (``llama_cpp.server`` reports none in streams).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        retries: int = 2,
    ) -> None:
        self.name = model
        self.model = model
        self.retries = retries
        headers = {"Authorization": f"Bearer {api_key or 'none'}"}
        self._client = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)

    def _post(self, payload: dict[str, object], *, stream: bool) -> httpx.Response:
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            try:
                request = self._client.build_request("POST", "/chat/completions", json=payload)
                response = self._client.send(request, stream=stream)
                if response.status_code in (429, 500, 502, 503, 504) and attempt < self.retries:
                    response.close()
                    time.sleep(_backoff(response, attempt))
                    continue
                if response.status_code >= 400:
                    body = response.read().decode(errors="replace")[:300]
                    response.close()
                    raise _StatusError(
                        response.status_code,
                        f"LLM endpoint {self._client.base_url} answered {response.status_code}: {body}",
                    )
                return response
            except httpx.ReadTimeout as exc:
                # The model took the request and did not answer in time: asking again waits as long
                # again (a 5 s ZHIKU_LLM_TIMEOUT failed after 16.6 s), so the timeout is the wait.
                raise LLMError(
                    f"the LLM endpoint {self._client.base_url} did not answer within {self._client.timeout.read} s "
                    "(ZHIKU_LLM_TIMEOUT)"
                ) from exc
            except httpx.HTTPError as exc:
                last = exc
                if attempt < self.retries:
                    time.sleep(0.5 * 2**attempt)
        raise LLMError(f"cannot reach the LLM endpoint {self._client.base_url}: {last}")

    def complete(self, messages: list[dict[str, str]], *, max_tokens: int = 512) -> tuple[str, Usage]:
        payload = {"model": self.model, "messages": messages, "max_tokens": max_tokens, "temperature": 0.1}
        response = self._post(payload, stream=False)
        try:
            data = response.json()
            choice = data["choices"][0]
            text = choice["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise LLMError(f"unexpected answer from the LLM endpoint: {exc}") from exc
        usage = data.get("usage") or {}
        return text, Usage(
            int(usage.get("prompt_tokens") or _estimate(messages)),
            int(usage.get("completion_tokens") or _estimate_text(text)),
            1,
            truncated=choice.get("finish_reason") == "length",
        )

    def stream(self, messages: list[dict[str, str]], usage: Usage, *, max_tokens: int = 512) -> Iterator[str]:
        payload: dict[str, object] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": 0.1,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        try:
            response = self._post(payload, stream=True)
        except _StatusError as exc:
            if exc.status not in (400, 422):
                raise
            # Some OpenAI-compatible servers reject the (newer) stream_options field: ask without it
            # and estimate the usage instead.
            del payload["stream_options"]
            response = self._post(payload, stream=True)
        pieces: list[str] = []
        reported = False
        try:
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                event = json.loads(data)
                if not isinstance(event, dict):
                    continue
                if event.get("error"):
                    raise LLMError(f"the LLM endpoint {self._client.base_url} failed mid-answer: {event['error']}")
                if event.get("usage"):
                    usage.input_tokens += int(event["usage"].get("prompt_tokens") or 0)
                    usage.output_tokens += int(event["usage"].get("completion_tokens") or 0)
                    reported = True
                for choice in event.get("choices") or []:
                    usage.truncated = usage.truncated or choice.get("finish_reason") == "length"
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        pieces.append(piece)
                        yield piece
        except (httpx.HTTPError, ValueError) as exc:
            raise LLMError(f"the LLM stream broke off: {exc}") from exc
        finally:
            response.close()
            # Counted even when the stream broke off or the caller stopped early: the tokens were spent.
            usage.calls += 1
            if not reported:
                # Servers stream about one token per chunk (llama.cpp, vLLM, Ollama), so the chunk count
                # is a floor for the output; our text estimate undercounts for tokenizers weak on Chinese.
                usage.input_tokens += _estimate(messages)
                usage.output_tokens += max(len(pieces), _estimate_text("".join(pieces)))


class _StatusError(LLMError):
    """The endpoint answered with an HTTP error status (kept to decide whether to retry differently)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _backoff(response: httpx.Response, attempt: int) -> float:
    """Seconds to wait before retrying: the server's ``Retry-After`` (capped at 30 s) or exponential."""
    try:
        return min(30.0, max(0.0, float(response.headers.get("retry-after", ""))))
    except ValueError:
        return 0.5 * 2**attempt


def _estimate_text(text: str) -> int:
    from ..text import estimate_tokens

    return estimate_tokens(text)


def _estimate(messages: list[dict[str, str]]) -> int:
    return sum(_estimate_text(m.get("content", "")) + 4 for m in messages)


def create_llm(settings: Settings) -> OpenAICompatibleLLM | None:
    """The configured LLM, or ``None`` for extractive answers."""
    if not settings.llm_configured:
        return None
    assert settings.llm_base_url and settings.llm_model
    return OpenAICompatibleLLM(
        settings.llm_base_url, settings.llm_model, api_key=settings.llm_api_key, timeout=settings.llm_timeout
    )
