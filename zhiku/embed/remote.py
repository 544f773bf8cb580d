"""Embeddings from any OpenAI-compatible ``/embeddings`` endpoint (vLLM, Ollama, llama.cpp, OpenAI)."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import numpy as np

from ..errors import ZhikuError


class OpenAIEmbedder:
    """Calls ``POST {base_url}/embeddings``; the dimension is learned from the first response."""

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, timeout: float = 60.0) -> None:
        self.name = f"openai:{model}"
        self.model = model
        self.dim = 0
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)

    def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        try:
            response = self._client.post("/embeddings", json={"model": self.model, "input": list(texts)})
            response.raise_for_status()
            data = sorted(response.json()["data"], key=lambda d: d["index"])
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            raise ZhikuError(f"embedding endpoint {self._client.base_url} failed: {exc}") from exc
        vectors = np.asarray([d["embedding"] for d in data], dtype=np.float32)
        self.dim = vectors.shape[1]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)
