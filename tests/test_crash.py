"""Crash safety: a real ``zhiku`` process is SIGKILLed at many moments while it adds, syncs and
deletes; each restart resumes, and in the end every file is indexed exactly once, nothing is
orphaned and ``zhiku doctor`` is clean.

The kill moments are chosen by watching the store from outside (seeded): after N more documents
are stored, after N more vectors are written, or after a random delay (start-up, queuing). The
state seen at each kill is recorded, so the test can show the kills hit that many distinct points.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from zhiku import App, Settings

ZHIKU = str(Path(sys.executable).parent / "zhiku")
WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa".split()


def make_corpus(folder: Path, n: int, seed: int, start: int = 0) -> list[Path]:
    """``n`` small Markdown files; each holds a unique token ``tokNNNN`` to find it by."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(start, start + n):
        body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(30, 400)))
        text = f"# Note {i}\n\nThe token tok{i:04d} marks this note. {body}\n"
        if i % 7 == 0:
            text += f"\n| key | value |\n|---|---|\n| tok{i:04d} | {i} |\n"
        path = folder / f"sub{i % 5}" / f"note{i:04d}.md"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        files.append(path)
    return files


@dataclass
class Snapshot:
    documents: int
    vectors: int
    done_jobs: int
    queued_jobs: int

    def key(self) -> tuple[int, int, int, int]:
        return (self.documents, self.vectors, self.done_jobs, self.queued_jobs)


def snapshot(db_path: Path) -> Snapshot:
    if not db_path.exists():
        return Snapshot(-1, -1, -1, -1)
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
        try:
            q = db.execute
            return Snapshot(
                q("SELECT count(*) FROM documents").fetchone()[0],
                q("SELECT count(*) FROM vectors").fetchone()[0],
                q("SELECT count(*) FROM jobs WHERE status = 'done'").fetchone()[0],
                q("SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')").fetchone()[0],
            )
        finally:
            db.close()
    except sqlite3.Error:  # not created yet (the child is still starting)
        return Snapshot(-1, -1, -1, -1)


class Crasher:
    """Runs a zhiku command and kills it with SIGKILL when a condition on the store holds."""

    def __init__(self, home: Path, seed: int) -> None:
        self.home = home
        self.db = home / "zhiku.db"
        self.rng = random.Random(seed)
        self.env = {
            **os.environ,
            "ZHIKU_EMBEDDER": "hash",
            "ZHIKU_VECTOR_BATCH": "8",
            "ZHIKU_EMBED_BATCH": "8",
            "OMP_NUM_THREADS": "1",
        }
        self.kills: list[Snapshot] = []

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        log = (self.home.parent / "child.log").open("ab")
        return subprocess.Popen(
            [ZHIKU, "--home", str(self.home), *args], env=self.env, stdout=subprocess.DEVNULL, stderr=log
        )

    def run_to_end(self, *args: str) -> int:
        proc = self.start(*args)
        return proc.wait(timeout=600)

    def kill_when(self, args: tuple[str, ...], condition, timeout: float = 120.0) -> bool:  # type: ignore[no-untyped-def]
        """Start the command, kill it once ``condition(snapshot, elapsed)`` holds. False when the
        command finished first (nothing left to interrupt)."""
        proc = self.start(*args)
        start = time.monotonic()
        while proc.poll() is None:
            state = snapshot(self.db)
            if condition(state, time.monotonic() - start):
                children = _children(proc.pid)
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                self.kills.append(snapshot(self.db))
                _wait_gone(children)  # parser workers notice their parent died and exit
                return True
            if time.monotonic() - start > timeout:
                proc.kill()
                raise AssertionError(f"{args} made no progress in {timeout} s (log: {self.home.parent / 'child.log'})")
            time.sleep(0.01)
        return False


def _children(pid: int) -> list[int]:
    """The direct children of ``pid`` (its parser workers), from /proc."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _wait_gone(pids: list[int], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    for pid in pids:
        while Path(f"/proc/{pid}").exists():
            stat = Path(f"/proc/{pid}/stat").read_text() if Path(f"/proc/{pid}/stat").exists() else ""
            if ") Z " in stat:  # a zombie: exited, waiting to be reaped by init
                break
            assert time.monotonic() < deadline, f"parser worker {pid} outlived its killed parent"
            time.sleep(0.05)


def verify(home: Path, files: list[Path], reference: dict[str, int] | None = None) -> None:
    """Every file indexed exactly once, nothing orphaned, doctor clean, each file findable."""
    app = App(Settings(home=home, embedder="hash"))
    try:
        docs = app.list_documents("k")
        keys = [d.path for d in docs]
        assert len(keys) == len(set(keys)) == len(files)
        assert set(keys) == {str(f.resolve()) for f in files}
        if reference is not None:
            assert {d.path: d.chunks for d in docs} == reference  # same chunks as one clean run
        report = app.doctor()
        assert report.clean, {f.name: (f.count, f.examples) for f in report.findings if f.count}
        counts = app.store.counts(app.store.kb_id("k"))
        assert counts["chunks"] == counts["keyword_entries"] == counts["vectors"]
        assert counts["pending_vectors"] == 0
        jobs = app.store.job_counts(kb_id=app.store.kb_id("k"))
        assert jobs["queued"] == jobs["running"] == jobs["failed"] == 0
        rng = random.Random(len(files))
        for path in rng.sample(files, min(25, len(files))):
            token = path.stem.replace("note", "tok")
            hits = app.search("k", token, mode="bm25", top_k=5).hits
            assert {h.path for h in hits} == {str(path.resolve())}, token  # found once, only there
    finally:
        app.close()


def reference_chunks(tmp_path: Path, corpus: Path) -> dict[str, int]:
    home = tmp_path / "reference-home"
    app = App(Settings(home=home, embedder="hash"))
    try:
        app.ensure_kb("k")
        assert app.add("k", [corpus]).ok
        return {d.path: d.chunks for d in app.list_documents("k")}
    finally:
        app.close()


def _add_phase(crasher: Crasher, corpus: Path, n: int, kills: int) -> None:
    args = ("add", "--kb", "k", "--create", "-q", str(corpus))
    rng = crasher.rng
    made = 0
    while made < kills:
        now = snapshot(crasher.db)
        if made == 0:
            delay = rng.uniform(0.1, 0.5)  # while the interpreter starts: nothing written yet

            def condition(s: Snapshot, t: float, delay: float = delay) -> bool:
                return t >= delay

        elif made < 3 or now.documents < 0:
            # Store creation and queuing the jobs. A fast machine ingests the whole corpus in a
            # few seconds and a loaded one takes seconds to start, so the kill waits for the store
            # to exist and falls after a short delay or once a few documents are stored, whichever
            # comes first: the moment must come before the command can finish.
            delay = rng.uniform(0.0, 1.0)
            early = max(now.documents, 0) + rng.randint(1, 4)

            def condition(s: Snapshot, t: float, delay: float = delay, early: int = early) -> bool:
                return s.documents >= early or (s.documents >= 0 and t >= delay)

        elif now.documents < n:
            target = now.documents + rng.randint(3, 25)

            def condition(s: Snapshot, t: float, target: int = target) -> bool:
                return s.documents >= target

        else:
            target = now.vectors + rng.randint(5, 60)

            def condition(s: Snapshot, t: float, target: int = target) -> bool:
                return s.vectors >= target

        if not crasher.kill_when(args, condition):
            break  # finished before the kill point: nothing left to interrupt
        made += 1
    assert crasher.run_to_end(*args) == 0


@pytest.mark.slow
def test_kills_during_add_sync_and_delete(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    files = make_corpus(corpus, 400, seed=4)
    reference = reference_chunks(tmp_path, corpus)
    home = tmp_path / "home"
    crasher = Crasher(home, seed=20)

    # 1. add: killed at >= 20 moments, then resumed to the end
    _add_phase(crasher, corpus, len(files), kills=24)
    add_kills = list(crasher.kills)
    assert len(add_kills) >= 20
    assert len({k.key() for k in add_kills}) >= 20, [k.key() for k in add_kills]  # distinct moments
    verify(home, files, reference)

    # 2. sync after changes: 60 removed, 60 changed, 60 new; killed while it runs
    rng = random.Random(7)
    removed = rng.sample(files, 60)
    for path in removed:
        path.unlink()
    kept = [f for f in files if f not in removed]
    for path in rng.sample(kept, 60):
        path.write_text(path.read_text(encoding="utf-8") + "\nChanged after the first run.\n", encoding="utf-8")
    files = kept + make_corpus(corpus, 60, seed=5, start=1000)
    args = ("sync", "--kb", "k", "-q", str(corpus))
    sync_kills = 0
    for _ in range(15):
        base = snapshot(crasher.db).done_jobs
        target = base + rng.randint(1, 15)
        if not crasher.kill_when(args, lambda s, t, target=target: s.done_jobs >= target):
            break
        sync_kills += 1
    assert sync_kills >= 8
    assert crasher.run_to_end(*args) == 0
    verify(home, files, reference_chunks(tmp_path / "ref2", corpus))
    proc = subprocess.run(
        [ZHIKU, "--home", str(home), "sync", "--kb", "k", str(corpus)],
        env=crasher.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "nothing to do" in proc.stdout  # idempotent after all those kills

    # 3. delete: most files removed from the folder (delete jobs), killed while deleting
    for path in files[50:]:
        path.unlink()
    files = files[:50]
    delete_kills = 0
    for _ in range(8):
        base = snapshot(crasher.db).documents
        if base <= len(files):
            break
        target = base - rng.randint(5, 60)
        if not crasher.kill_when(args, lambda s, t, target=target: 0 <= s.documents <= target):
            break
        delete_kills += 1
    assert delete_kills >= 3
    assert crasher.run_to_end(*args) == 0
    verify(home, files, reference_chunks(tmp_path / "ref3", corpus))

    # 4. deleting the knowledge base, killed at random moments: all or nothing, never half
    for _ in range(3):
        delay = rng.uniform(0.5, 4.0)
        crasher.kill_when(("kb", "delete", "k", "--yes"), lambda s, t, delay=delay: t >= delay)
        state = snapshot(crasher.db)
        assert state.documents in (0, len(files))
    assert crasher.run_to_end("kb", "delete", "k", "--yes") in (0, 1)  # 1: already gone
    app = App(Settings(home=home, embedder="hash"))
    try:
        assert app.list_kbs() == []
        assert app.doctor().clean
        db = sqlite3.connect(home / "zhiku.db")
        for table in ("documents", "chunks", "chunks_fts", "vectors", "tables", "jobs"):
            assert db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
        db.close()
    finally:
        app.close()
    print(
        f"kills: add {len(add_kills)}, sync {sync_kills}, delete {delete_kills}; distinct add states "
        f"{len({k.key() for k in add_kills})}"
    )


def test_a_killed_add_resumes(tmp_path: Path) -> None:
    """The quick version for every run: three kills in one add, then resume."""
    corpus = tmp_path / "corpus"
    files = make_corpus(corpus, 60, seed=1)
    home = tmp_path / "home"
    crasher = Crasher(home, seed=3)
    args = ("add", "--kb", "k", "--create", "-q", str(corpus))
    for target in (5, 20, 40):
        crasher.kill_when(args, lambda s, t, target=target: s.documents >= target)
    assert len(crasher.kills) == 3
    assert crasher.run_to_end(*args) == 0
    verify(home, files, reference_chunks(tmp_path, corpus))
