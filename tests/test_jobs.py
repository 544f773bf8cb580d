"""Durable ingestion jobs: recorded in the store, run by worker processes under a time limit,
keyword-searchable before their vectors, resumed after their runner died, retried after a failure."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from zhiku import App, Settings
from zhiku.store.records import JobDone, JobSpec
from zhiku.worker import ParsePool, ParseTask, WorkerConfig

TESTS = Path(__file__).parent
PLUGIN = "plugins.hostile_parsers:register"


@pytest.fixture
def plugin_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings whose parser workers also load the hostile test parsers (tests/plugins)."""
    monkeypatch.setenv("PYTHONPATH", str(TESTS))
    return settings.with_overrides(parser_plugins=[PLUGIN], parse_timeout_s=2.0)


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_add_records_one_job_per_file_with_reasons(app: App, tmp_path: Path) -> None:
    app.ensure_kb("k")
    good = _write(tmp_path, "good.md", "# Parking\n\nVisitors park on level B2.\n")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    report = app.add("k", [good, empty])
    assert [o.status for o in report.outcomes] == ["added", "failed"]
    jobs = {Path(j.key).name: j for j in app.list_jobs("k")}
    assert jobs["good.md"].status == "done" and jobs["good.md"].result == "added" and jobs["good.md"].chunks == 1
    assert jobs["empty.txt"].status == "failed" and "empty.txt" in jobs["empty.txt"].reason
    assert all(j.attempts == 1 and j.kind == "add" and j.batch for j in jobs.values())
    assert app.store.job_counts(kb_id=app.store.kb_id("k")) == {"queued": 0, "running": 0, "done": 1, "failed": 1}


def test_a_failed_job_is_retried_after_the_file_is_fixed(app: App, tmp_path: Path) -> None:
    app.ensure_kb("k")
    note = tmp_path / "later.md"
    note.write_bytes(b"")
    assert app.add("k", [note]).count("failed") == 1
    note.write_text("# Later\n\nNow the file has text.\n", encoding="utf-8")
    retried = app.retry_jobs(kb="k", failed=True)
    assert len(retried) == 1 and app.store.get_job(retried[0]).status == "queued"
    app.run_jobs(kb="k")
    job = app.store.get_job(retried[0])
    assert job.status == "done" and job.result == "added" and job.attempts == 2 and job.reason == ""
    assert [d.path for d in app.list_documents("k")] == [str(note.resolve())]
    assert app.retry_jobs(kb="k", failed=True) == []


def test_keyword_searchable_at_once_vectors_follow(app: App, tmp_path: Path) -> None:
    app.ensure_kb("k")
    texts = [f"# Note {i}\n\nThe canteen serves dish number {i} today.\n" for i in range(5)]
    files = [_write(tmp_path, f"n{i}.md", text) for i, text in enumerate(texts)]
    _, ids = app.enqueue("k", [JobSpec("add", str(f), str(f)) for f in files])
    app.run_jobs(kb="k", until=ids, embed=False)  # stored, not embedded
    kb_id = app.store.kb_id("k")
    counts = app.store.counts(kb_id)
    assert counts["chunks"] == 5 and counts["keyword_entries"] == 5 and counts["vectors"] == 0
    assert counts["pending_vectors"] == 5
    assert app.search("k", "canteen dish", mode="bm25").hits  # keyword-searchable at once
    hybrid = app.search("k", "canteen dish")
    assert hybrid.hits and any("5 chunk(s) have no dense vector yet" in n for n in hybrid.notes)
    stats = app.run_jobs(kb="k")  # the background step: batched embedding
    assert stats.vectors == 5
    counts = app.store.counts(kb_id)
    assert counts["vectors"] == counts["chunks"] == 5 and counts["pending_vectors"] == 0
    assert not app.search("k", "canteen dish").notes
    assert {"bm25", "dense"} <= set(app.search("k", "canteen dish").hits[0].ranks)


def test_a_stuck_parser_is_stopped_and_the_batch_goes_on(plugin_settings: Settings, tmp_path: Path) -> None:
    app = App(plugin_settings)
    try:
        app.ensure_kb("k")
        stuck = _write(tmp_path, "stuck.sleepy", "never parsed")
        good = _write(tmp_path, "good.md", "# Fine\n\nThis one is fine.\n")
        start = time.monotonic()
        report = app.add("k", [stuck, good])
        elapsed = time.monotonic() - start
        by_name = {Path(o.path).name: o for o in report.outcomes}
        assert by_name["stuck.sleepy"].status == "failed"
        assert "timed out after 2 s" in by_name["stuck.sleepy"].reason
        assert by_name["good.md"].status == "added"
        assert elapsed < 30
    finally:
        app.close()


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting for its reaper is not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except OSError:
        return False
    return "State:\tZ" not in status


def test_a_stopped_parser_takes_the_processes_it_started_along(plugin_settings: Settings, tmp_path: Path) -> None:
    # The PDF parser runs Tesseract processes; a worker killed at its time limit must not leave them
    # reading on as orphans.
    app = App(plugin_settings)
    try:
        app.ensure_kb("k")
        stuck = _write(tmp_path, "stuck.spawner", "never parsed")
        report = app.add("k", [stuck])
        assert "timed out after 2 s" in report.outcomes[0].reason
        helper = int(stuck.with_suffix(".pid").read_text(encoding="utf-8"))
        deadline = time.monotonic() + 10
        while _running(helper) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _running(helper)
    finally:
        app.close()


def test_a_killed_caller_takes_its_workers_helpers_along(tmp_path: Path) -> None:
    # `zhiku add` killed with SIGKILL: its parser worker notices and ends, and the processes the
    # parser started (Tesseract) end with it instead of reading on.
    stuck = _write(tmp_path, "stuck.spawner", "never parsed")
    script = (
        "from zhiku import App, Settings\n"
        f"app = App(Settings(home={str(tmp_path / 'home')!r}, parser_plugins=[{PLUGIN!r}], parse_timeout_s=600))\n"
        "app.ensure_kb('k')\n"
        f"app.add('k', [{str(stuck)!r}])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    caller = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        pid_file = stuck.with_suffix(".pid")
        deadline = time.monotonic() + 120
        while not pid_file.exists() and time.monotonic() < deadline and caller.poll() is None:
            time.sleep(0.1)
        helper = int(pid_file.read_text(encoding="utf-8"))
        assert _running(helper)
    finally:
        caller.kill()
        caller.wait()
    deadline = time.monotonic() + 10
    while _running(helper) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _running(helper)


def test_a_parser_that_kills_its_process_fails_alone(plugin_settings: Settings, tmp_path: Path) -> None:
    app = App(plugin_settings)
    try:
        app.ensure_kb("k")
        files = [
            _write(tmp_path, "a.md", "# A\n\nFirst.\n"),
            _write(tmp_path, "boom.crash", "x"),
            _write(tmp_path, "b.md", "# B\n\nSecond.\n"),
        ]
        report = app.add("k", files)
        by_name = {Path(o.path).name: o for o in report.outcomes}
        assert "parser process died (killed by signal 9)" in by_name["boom.crash"].reason
        assert by_name["a.md"].status == by_name["b.md"].status == "added"
    finally:
        app.close()


def test_attachments_are_documents_deleted_with_their_parent(plugin_settings: Settings, tmp_path: Path) -> None:
    app = App(plugin_settings)
    try:
        app.ensure_kb("k")
        bundle = _write(
            tmp_path,
            "mail.bundle",
            "minutes.md: # Minutes\\n\\nThe budget was approved.\nnotes.txt: Lunch is at noon.\n"
            "broken.docx: PK\x03\x04not a zip",
        )
        report = app.add("k", [bundle])
        parent_key = str(bundle.resolve())
        assert report.outcomes[0].status == "added"
        docs = {d.path: d for d in app.list_documents("k")}
        assert set(docs) == {parent_key, f"{parent_key}#minutes.md", f"{parent_key}#notes.txt"}
        assert docs[f"{parent_key}#notes.txt"].metadata["attachment_of"] == parent_key
        job = app.list_jobs("k")[0]
        assert "attachment" in job.reason and "broken.docx" in job.reason  # a warning, not a failure
        hit = app.search("k", "budget approved", mode="bm25").hits[0]
        assert hit.path == f"{parent_key}#minutes.md"
        app.delete_document("k", docs[parent_key].id)
        assert app.list_documents("k") == []
        assert app.store.counts(app.store.kb_id("k"))["chunks"] == 0
        assert not any(app.store.consistency().values())
    finally:
        app.close()


def test_real_email_attachments(app: App, tmp_path: Path) -> None:
    message = EmailMessage()
    message["Subject"] = "Quarterly report"
    message["From"] = "cfo@example.com"
    message["To"] = "all@example.com"
    message.set_content("Please find the report attached.")
    message.add_attachment(
        b"# Report\n\nRevenue grew by twelve percent.\n", maintype="text", subtype="markdown", filename="report.md"
    )
    eml = tmp_path / "mail.eml"
    eml.write_bytes(bytes(message))
    app.ensure_kb("k")
    assert app.add("k", [eml]).ok
    keys = {d.path for d in app.list_documents("k")}
    assert f"{eml.resolve()}#report.md" in keys
    assert app.search("k", "revenue grew", mode="bm25").hits[0].path.endswith("#report.md")

    # Re-indexed with new bytes, the message and its attachment keep their ids (and creation times):
    # an id a client holds still names the document.
    before = {d.path: (d.id, d.created_at) for d in app.list_documents("k")}
    message.replace_header("Subject", "Quarterly report (corrected)")
    eml.write_bytes(bytes(message))
    assert app.add("k", [eml]).count("updated") == 1
    after = {d.path: (d.id, d.created_at) for d in app.list_documents("k")}
    assert after == before
    assert "corrected" in app.search("k", "quarterly report corrected", mode="bm25").hits[0].text


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_jobs_of_a_dead_runner_are_resumed(app: App, tmp_path: Path) -> None:
    app.ensure_kb("k")
    files = [_write(tmp_path, f"r{i}.md", f"# R{i}\n\nResume me {i}.\n") for i in range(3)]
    _, ids = app.enqueue("k", [JobSpec("add", str(f), str(f)) for f in files])
    claimed = app.store.claim_job(_dead_pid(), kb_id=app.store.kb_id("k"))  # a runner that then died
    assert claimed is not None and app.store.get_job(claimed.id).status == "running"
    stats = app.run_jobs(kb="k")
    assert stats.recovered == [claimed.id]
    jobs = app.store.get_jobs(ids)
    assert all(j.status == "done" and j.result == "added" for j in jobs)
    assert app.store.get_job(claimed.id).attempts == 2
    assert len(app.list_documents("k")) == 3


def test_queuing_the_same_file_twice_is_one_job(app: App, tmp_path: Path) -> None:
    app.ensure_kb("k")
    note = _write(tmp_path, "n.md", "# N\n\nOnce.\n")
    _, first = app.enqueue("k", [JobSpec("add", str(note), str(note))])
    _, second = app.enqueue("k", [JobSpec("add", str(note), str(note))])
    assert first == second
    app.run_jobs(kb="k")
    assert app.store.job_counts(kb_id=app.store.kb_id("k"))["done"] == 1


def test_the_pool_holds_one_file_per_worker(settings: Settings, tmp_path: Path) -> None:
    config = WorkerConfig(settings, 10**7, settings.chunk_tokens, settings.chunk_overlap)
    pool = ParsePool(config, workers=1, timeout_s=30)
    try:
        note = _write(tmp_path, "a.md", "# A\n\nText.\n")
        assert pool.free_slots() == 1
        pool.submit(ParseTask(1, str(note), str(note)))
        assert pool.free_slots() == 0 and pool.busy() == 1
        outcomes: list = []
        deadline = time.monotonic() + 30
        while not outcomes and time.monotonic() < deadline:
            outcomes = pool.poll(0.5)
        assert outcomes[0].status == "parsed" and outcomes[0].docs[0].chunks
        assert pool.free_slots() == 1
        pid = pool.pids()[0]
        pool.submit(ParseTask(2, str(note), str(note), known_hash=outcomes[0].content_hash))
        again: list = []
        while not again:
            again = pool.poll(0.5)
        assert again[0].status == "unchanged" and pool.pids() == [pid]  # the worker is reused
    finally:
        pool.close()
    assert pool.pids() == []


def test_background_runner_does_queued_jobs_and_stops_its_workers(app: App, tmp_path: Path) -> None:
    app.ensure_kb("k")
    note = _write(tmp_path, "bg.md", "# Background\n\nDone by the server's thread.\n")
    before = set(_children())
    background = app.start_background()
    _, ids = app.enqueue("k", [JobSpec("add", str(note), str(note))])
    jobs = app.wait_for_jobs(ids, timeout=60)
    assert jobs[0].status == "done" and jobs[0].result == "added"
    deadline = time.monotonic() + 60
    while app.store.pending_count(app.store.kb_id("k")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert app.store.pending_count(app.store.kb_id("k")) == 0  # embedded in the background too
    workers = [pid for pid in _children() if pid not in before]
    assert workers  # the background runner's parser process
    app.stop_background()
    assert not background.alive
    for pid in workers:
        assert _gone(pid), f"parser worker {pid} outlived the background runner"


def _children() -> list[int]:
    return [int(c) for task in Path(f"/proc/{os.getpid()}/task").glob("*/children") for c in task.read_text().split()]


def _gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stat = Path(f"/proc/{pid}/stat")
        if not stat.exists() or ") Z " in stat.read_text():
            return True
        time.sleep(0.05)
    return False


def _age_jobs(app: App, days: float) -> None:
    """Make every job look ``days`` old (as if written then)."""
    with app.store._write() as db:
        db.execute("UPDATE jobs SET updated_at = updated_at - ?", (days * 86400,))


def test_old_finished_jobs_are_pruned_but_the_latest_failure_stays(app: App, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from zhiku.cli import main

    app.ensure_kb("k")
    good = _write(tmp_path, "good.md", "# Good\n\nFine from the start.\n")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"")
    fixed = tmp_path / "fixed.md"
    fixed.write_bytes(b"")
    app.add("k", [good, bad, fixed])
    fixed.write_text("# Fixed\n\nNow it has text.\n", encoding="utf-8")
    app.add("k", [fixed])  # a new job for the same file, which succeeds
    _, (waiting,) = app.enqueue("k", [JobSpec("add", str(good), str(good))])  # queued, not run
    by_status = {(Path(j.key).name, j.status) for j in app.list_jobs("k")}
    assert by_status == {
        ("good.md", "done"),
        ("bad.txt", "failed"),
        ("fixed.md", "failed"),
        ("fixed.md", "done"),
        ("good.md", "queued"),
    }

    assert app.prune_jobs(1.0) == 0  # nothing is a day old yet
    _age_jobs(app, 2.0)
    assert app.prune_jobs(1.0) == 3  # good.md done, fixed.md's old failure, fixed.md done
    left = {(Path(j.key).name, j.status) for j in app.list_jobs("k")}
    assert left == {("bad.txt", "failed"), ("good.md", "queued")}
    assert app.store.failed_keys(app.store.kb_id("k")) == {
        str(bad.resolve()): app.store.get_job(
            next(j.id for j in app.list_jobs("k") if j.status == "failed")
        ).content_hash
    }
    assert app.store.get_job(waiting).status == "queued"

    # A runner prunes by itself with job_retention_days; 0 keeps everything.
    app.run_jobs(kb="k")
    _age_jobs(app, 40.0)
    keep = App(app.settings.with_overrides(job_retention_days=0))
    try:
        keep.run_jobs(kb="k")
        assert len(keep.list_jobs("k")) == 2
    finally:
        keep.close()
    app.run_jobs(kb="k")  # default retention: 30 days
    assert {(Path(j.key).name, j.status) for j in app.list_jobs("k")} == {("bad.txt", "failed")}

    # And by hand, from the CLI.
    bad.write_text("now readable\n", encoding="utf-8")
    app.add("k", [bad])
    _age_jobs(app, 3.0)
    result = CliRunner().invoke(main, ["--home", str(app.settings.home), "jobs", "prune", "--older-than", "1"])
    assert result.exit_code == 0, result.output
    assert "forgot 1 finished job(s) older than 1 day(s)" in result.output  # the failed job, re-run and done
    assert app.list_jobs("k") == []


def _kept_files(app: App, kb: str) -> list[Path]:
    return sorted(p for p in app.store.kb_files_dir(app.store.kb_id(kb)).rglob("*") if p.is_file())


def test_two_uploads_of_one_name_in_one_batch_keep_the_first_and_refuse_the_second(app: App) -> None:
    app.ensure_kb("k")
    files = [("notes.md", io.BytesIO(b"# A\n\nFirst notes.\n")), ("notes.md", io.BytesIO(b"# B\n\nSecond notes.\n"))]
    _, ids = app.upload("k", files)
    assert len(set(ids)) == 2  # both are reported, neither silently merged into the other
    jobs = app.wait_for_jobs(ids)
    assert [(j.status, j.result) for j in jobs] == [("done", "added"), ("failed", "failed")]
    assert "same name" in jobs[1].reason and "upload/notes.md" in jobs[1].reason
    assert [p.read_bytes() for p in _kept_files(app, "k")] == [b"# A\n\nFirst notes.\n"]  # no orphan copy
    assert app.retry_jobs([jobs[1].id]) == []  # nothing to read again: it must be uploaded again


def test_an_upload_over_the_limit_is_not_kept(settings: Settings) -> None:
    app = App(settings.with_overrides(max_file_mb=0.001))  # 1,000 bytes, decimal like the message
    try:
        app.ensure_kb("k")
        _, ids = app.upload("k", [("big.txt", io.BytesIO(b"x" * 1_001)), ("small.txt", io.BytesIO(b"y" * 1_000))])
        big, small = app.wait_for_jobs(ids)
        assert big.status == "failed" and "file too large (1001 bytes > limit 1000 bytes)" in big.reason
        assert small.status == "done"
        assert [p.name for p in _kept_files(app, "k")] == ["small.txt"]
        assert not list(app.store.kb_files_dir(app.store.kb_id("k")).glob(".incoming-*"))
    finally:
        app.close()


def test_a_failed_upload_is_forgotten_with_its_file(app: App) -> None:
    app.ensure_kb("k")
    _, ids = app.upload("k", [("broken.pdf", io.BytesIO(b"%PDF-1.4 not really"))])
    (job,) = app.wait_for_jobs(ids)
    assert job.status == "failed" and len(_kept_files(app, "k")) == 1  # kept for a retry meanwhile
    _age_jobs(app, 40.0)
    assert app.prune_jobs(30.0) == 1
    assert _kept_files(app, "k") == []


def test_an_upload_queued_again_frees_the_copy_nobody_reads(app: App) -> None:
    app.ensure_kb("k")
    _, first = app.upload("k", [("memo.md", io.BytesIO(b"# Memo\n\nOld text.\n"))])
    _, second = app.upload("k", [("memo.md", io.BytesIO(b"# Memo\n\nNew text.\n"))])
    assert first == second  # still queued: one job, reading the newer copy
    assert [p.read_bytes() for p in _kept_files(app, "k")] == [b"# Memo\n\nNew text.\n"]
    app.wait_for_jobs(second)
    assert "New text" in app.search("k", "memo text", mode="bm25").hits[0].text


def test_new_bytes_for_a_document_being_parsed_run_after_it(app: App, tmp_path: Path) -> None:
    app.ensure_kb("k")
    _, first = app.upload("k", [("memo.md", io.BytesIO(b"# Memo\n\nOld text.\n"))])
    running = app.store.claim_job(os.getpid(), kb_id=app.store.kb_id("k"))
    assert running is not None and running.id == first[0]
    _, second = app.upload("k", [("memo.md", io.BytesIO(b"# Memo\n\nNew text.\n"))])
    assert second != first  # queued behind the running one, not merged into it
    # ... and no runner takes it while the first is running (it could finish first and be overwritten).
    assert app.store.claim_job(os.getpid(), kb_id=app.store.kb_id("k")) is None


def test_ids_beyond_sqlite_are_not_found(app: App) -> None:
    from zhiku.errors import NotFound

    app.ensure_kb("k")
    for huge in (2**63, 10**30, -1):
        with pytest.raises(NotFound):
            app.store.get_job(huge)
        with pytest.raises(NotFound):
            app.store.get_document(huge)
        with pytest.raises(NotFound):
            app.delete_document("k", huge)
        with pytest.raises(NotFound):
            app.retry_jobs([huge])


def test_a_runner_waits_for_a_document_another_runner_is_parsing(app: App) -> None:
    app.ensure_kb("k")
    _, first = app.upload("k", [("memo.md", io.BytesIO(b"# Memo\n\nOld text.\n"))])
    other = app.store.claim_job(os.getpid(), kb_id=app.store.kb_id("k"))  # "another runner" holds it
    assert other is not None and [other.id] == first
    _, second = app.upload("k", [("memo.md", io.BytesIO(b"# Memo\n\nNew text.\n"))])

    def finish_the_other() -> None:
        time.sleep(0.5)
        app.store.finish_job(JobDone(other.id, "failed", "the other runner gave up", failed=True))

    helper = threading.Thread(target=finish_the_other)
    helper.start()
    stats = app.run_jobs(kb="k")  # waits for the other runner, then does the newer upload
    helper.join()
    assert stats.jobs == 1 and app.store.get_job(second[0]).result == "added"
    assert "New text" in app.search("k", "memo", mode="bm25").hits[0].text


def test_a_dangling_link_is_reported_under_its_own_name(app: App, tmp_path: Path) -> None:
    # It was reported under its missing target's name, which the user never saw in the folder.
    folder = tmp_path / "docs"
    _write(folder, "good.md", "# Good\n\nIndexed.\n")
    (folder / "dangling.md").symlink_to(tmp_path / "gone" / "target-name.md")
    app.ensure_kb("k")
    report = app.add("k", [folder])
    assert [o.status for o in report.outcomes].count("added") == 1
    (failed,) = report.failed
    assert failed.reason.startswith("dangling.md: no such file"), failed.reason
