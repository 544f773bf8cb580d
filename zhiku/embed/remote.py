"""Embeddings from any OpenAI-compatible ``/embeddings`` endpoint (vLLM, Ollama, llama.cpp, OpenAI)."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import numpy as np

from ..errors import ZhikuError


class OpenAIEmbedder:
    """Calls ``POST {base_url}/embeddings``; the dimension is learned from the first response."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        send_input_type: bool = False,
    ) -> None:
        self.name = f"openai:{model}"
        self.model = model
        self.dim = 0
        # e5/bge-style servers embed queries and passages differently when told which is which
        # (``input_type``); strict OpenAI endpoints reject unknown fields, so it is opt-in.
        self.send_input_type = send_input_type
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)

    def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        try:
            payload: dict[str, object] = {"model": self.model, "input": list(texts)}
            if self.send_input_type:
                payload["input_type"] = "query" if query else "passage"
            response = self._client.post("/embeddings", json=payload)
            response.raise_for_status()
            data = sorted(response.json()["data"], key=lambda d: d["index"])
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            raise ZhikuError(f"embedding endpoint {self._client.base_url} failed: {exc}") from exc
        vectors = np.asarray([d["embedding"] for d in data], dtype=np.float32)
        self.dim = vectors.shape[1]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)
