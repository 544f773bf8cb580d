"""BEIR-layout retrieval datasets: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/<name>.tsv``."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import ZhikuError
from ..types import Block, ParsedDocument


@dataclass
class BeirDataset:
    corpus: dict[str, ParsedDocument]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def corpus_document(title: str, text: str) -> ParsedDocument:
    """A BEIR corpus entry as zhiku sees it: the title is the document title (it goes into every
    chunk's indexed context), the text one paragraph block."""
    return ParsedDocument.from_blocks([Block("paragraph", text)], title=title.strip())


def _jsonl(path: Path) -> Iterator[dict[str, object]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def load_beir(folder: Path, qrels: str = "test") -> BeirDataset:
    """Load a BEIR folder; only queries that have relevance judgements in ``qrels`` are kept."""
    qrels_path = folder / "qrels" / f"{qrels}.tsv"
    for needed in (folder / "corpus.jsonl", folder / "queries.jsonl", qrels_path):
        if not needed.exists():
            raise ZhikuError(f"{needed} is missing: expected BEIR layout (corpus.jsonl, queries.jsonl, qrels/)")
    judgements: dict[str, dict[str, int]] = {}
    with qrels_path.open(encoding="utf-8", newline="") as fh:
        for row in csv.reader(fh, delimiter="\t"):
            if len(row) < 3 or not row[2].strip().lstrip("-").isdigit():
                continue  # header or blank line
            judgements.setdefault(row[0].strip(), {})[row[1].strip()] = int(row[2])
    corpus = {
        str(d["_id"]): corpus_document(str(d.get("title") or ""), str(d.get("text") or ""))
        for d in _jsonl(folder / "corpus.jsonl")
    }
    queries = {str(q["_id"]): str(q["text"]) for q in _jsonl(folder / "queries.jsonl") if str(q["_id"]) in judgements}
    return BeirDataset(corpus, queries, {q: judgements[q] for q in queries})
