"""A reranker behind an HTTP endpoint speaking the Cohere/Jina rerank API.

``POST {base_url}/rerank`` with ``{"model", "query", "documents", "top_n"}`` answers
``{"results": [{"index", "relevance_score"}, ...]}``; llama.cpp's ``llama-server --reranking``, vLLM,
Infinity, Xinference, Jina and Cohere all speak it. Scores are passed on as the server gives them:
probabilities from most servers, raw logits from llama.cpp, so ``rerank_threshold`` is set per server.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from ..errors import ZhikuError


class HTTPReranker:
    """Calls ``POST {base_url}/rerank`` once per ``score`` call. The timeout is short: reranking is
    optional, and a search whose reranker hangs should fall back to the retrieval order soon."""

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, timeout: float = 15.0) -> None:
        self.name = f"http:{model}"
        self.model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        payload = {"model": self.model, "query": query, "documents": list(texts), "top_n": len(texts)}
        try:
            response = self._client.post("/rerank", json=payload)
            response.raise_for_status()
            return _scores(response.json(), len(texts))
        except (httpx.HTTPError, IndexError, KeyError, TypeError, ValueError) as exc:
            raise ZhikuError(f"rerank endpoint {self._client.base_url} failed: {exc}") from exc

    def close(self) -> None:
        self._client.close()


def _scores(body: Any, n: int) -> list[float]:
    """Scores in input order from ``{"results": [...]}`` (Cohere, Jina) or a bare list (TEI)."""
    results = body["results"] if isinstance(body, dict) else body
    scores: list[float | None] = [None] * n
    for item in results:
        value = item["relevance_score"] if "relevance_score" in item else item["score"]
        scores[int(item["index"])] = float(value)
    missing = [i for i, s in enumerate(scores) if s is None]
    if missing:
        raise ValueError(f"no score for {len(missing)} of {n} documents (first: index {missing[0]})")
    return [float(s) for s in scores if s is not None]
