"""Folder sync: new files added, changed ones re-indexed, deleted ones removed; idempotent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from zhiku import App, Settings
from zhiku.cli import main
from zhiku.errors import ZhikuError


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    _write(root / "leave.md", "# Leave\n\nNew hires get ten days of annual leave.\n")
    _write(root / "parking.md", "# Parking\n\nVisitors park on level B2.\n")
    _write(root / "hr" / "remote.md", "# Remote\n\nRemote work is allowed two days a week.\n")
    _write(root / "script.py", "print('not a document')\n")  # unsupported: ignored
    return root


def _results(result) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {Path(j.key).name: j.result for j in result.jobs}


def test_sync_adds_changes_removes_and_is_idempotent(app: App, folder: Path) -> None:
    app.ensure_kb("k")
    first = app.sync("k", folder)
    assert first.summary.startswith("3 new, 0 changed, 0 removed")
    assert _results(first) == {"leave.md": "added", "parking.md": "added", "remote.md": "added"}
    kb_id = app.store.kb_id("k")
    counts = app.store.counts(kb_id)
    assert counts["documents"] == 3 and counts["vectors"] == counts["chunks"]

    second = app.sync("k", folder)
    assert second.summary == "nothing to do (3 unchanged)" and second.jobs == []
    assert app.store.counts(kb_id) == counts

    _write(folder / "leave.md", "# Leave\n\nNew hires get fifteen days of annual leave.\n")  # changed
    (folder / "parking.md").unlink()  # removed
    _write(folder / "hr" / "new.md", "# Canteen\n\nThe canteen opens at noon.\n")  # new
    remote = folder / "hr" / "remote.md"
    os.utime(remote, (time.time() + 10, time.time() + 10))  # touched, same bytes
    third = app.sync("k", folder)
    assert third.summary.startswith("1 new, 2 changed, 1 removed, 0 unchanged")
    assert _results(third) == {
        "new.md": "added",
        "leave.md": "updated",
        "remote.md": "unchanged",
        "parking.md": "removed",
    }
    assert not app.search("k", "visitors park level", mode="bm25").hits
    assert "fifteen" in app.search("k", "annual leave days", mode="bm25").hits[0].text
    assert sorted(Path(d.path).name for d in app.list_documents("k")) == ["leave.md", "new.md", "remote.md"]

    fourth = app.sync("k", folder)  # the touched file's new mtime was recorded: not hashed again
    assert fourth.summary == "nothing to do (3 unchanged)"
    assert not any(app.store.consistency(kb_id).values())


def test_dry_run_reports_and_changes_nothing(app: App, folder: Path) -> None:
    app.ensure_kb("k")
    plan = app.sync("k", folder, dry_run=True).plan
    assert plan is not None and len(plan.new) == 3 and not plan.removed
    assert app.list_documents("k") == [] and app.list_jobs("k") == []
    app.sync("k", folder)
    os.utime(folder / "leave.md", (time.time() + 10, time.time() + 10))  # touched only
    (folder / "parking.md").unlink()
    plan = app.sync("k", folder, dry_run=True).plan
    assert plan is not None and plan.changed == [] and plan.unchanged == 2  # the dry run hashes: exact
    assert [Path(k).name for k in plan.removed] == ["parking.md"]
    assert len(app.list_documents("k")) == 3


def test_sync_parses_again_what_another_pipeline_indexed(settings: Settings, folder: Path) -> None:
    # After an upgrade that changes parsing (``PIPELINE_REVISION``) or a new chunk size, the same
    # files are parsed again: a dry run says so, the sync does it, the next sync has nothing to do.
    first = App(settings)
    try:
        first.ensure_kb("k")
        first.sync("k", folder)
    finally:
        first.close()
    app = App(Settings(home=settings.home, embedder="hash", chunk_tokens=120, chunk_overlap=20))
    try:
        plan = app.sync("k", folder, dry_run=True).plan
        assert plan is not None and len(plan.stale) == 3 and plan.unchanged == 0 and not plan.changed
        assert "3 to parse again" in plan.summary()
        result = app.sync("k", folder)
        assert _results(result) == {"leave.md": "updated", "parking.md": "updated", "remote.md": "updated"}
        assert {d.metadata["pipeline"] for d in app.list_documents("k")} == {app.pipeline}
        assert app.sync("k", folder).summary == "nothing to do (3 unchanged)"
    finally:
        app.close()


def test_a_failing_file_is_skipped_until_its_bytes_change(app: App, folder: Path) -> None:
    app.ensure_kb("k")
    bad = folder / "blank.md"
    bad.write_bytes(b"")
    first = app.sync("k", folder)
    assert [Path(j.key).name for j in first.failed] == ["blank.md"]
    again = app.sync("k", folder)
    assert again.summary == "nothing to do (3 unchanged); 1 still failing (zhiku jobs retry --failed)"
    _write(bad, "# Blank no more\n\nNow it has words.\n")
    fixed = app.sync("k", folder)
    assert _results(fixed) == {"blank.md": "added"}


def test_a_file_over_the_size_limit_is_refused_once_until_it_changes(settings: Settings, folder: Path) -> None:
    # It failed again on every sync (and every --watch tick: ~17,000 failed jobs a day), since a file
    # refused unread had no content hash to be skipped by.
    small = App(settings.with_overrides(max_file_mb=0.001))
    try:
        small.ensure_kb("k")
        big = _write(folder / "big.md", "# Big\n\n" + "words " * 400)
        first = small.sync("k", folder)
        assert [Path(j.key).name for j in first.failed] == ["big.md"] and "too large" in first.failed[0].reason
        again = small.sync("k", folder)
        assert again.summary == "nothing to do (3 unchanged); 1 still failing (zhiku jobs retry --failed)"
        big.write_text("# Big\n\nSmall now.\n", encoding="utf-8")
        assert _results(small.sync("k", folder)) == {"big.md": "added"}
    finally:
        small.close()


def test_documents_outside_the_folder_are_left_alone(app: App, folder: Path, tmp_path: Path) -> None:
    app.ensure_kb("k")
    other = _write(tmp_path / "elsewhere" / "other.md", "# Other\n\nKept.\n")
    app.add("k", [other])
    app.sync("k", folder)
    (folder / "leave.md").unlink()
    app.sync("k", folder)
    names = sorted(Path(d.path).name for d in app.list_documents("k"))
    assert names == ["other.md", "parking.md", "remote.md"]


def test_sync_needs_a_folder(app: App, folder: Path) -> None:
    app.ensure_kb("k")
    with pytest.raises(ZhikuError, match="not a folder"):
        app.sync("k", folder / "leave.md")


def test_cli_sync(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHIKU_EMBEDDER", "hash")
    home = str(tmp_path / "home")
    runner = CliRunner()

    def run(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(main, ["--home", home, *args], catch_exceptions=False)

    dry = run("sync", "--kb", "k", "--create", str(folder), "--dry-run")
    assert dry.exit_code == 0 and "would sync" in dry.output and "3 new" in dry.output
    first = run("sync", "--kb", "k", str(folder))
    assert first.exit_code == 0 and "3 added" in first.output
    second = run("sync", "--kb", "k", str(folder))
    assert second.exit_code == 0 and "nothing to do" in second.output
    listed = run("jobs", "--kb", "k")
    assert listed.exit_code == 0 and "sync" in listed.output and "added" in listed.output


def test_cli_sync_watch_picks_up_changes(folder: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc = _start_watch(folder, home)
    try:
        app = App(Settings(home=home, embedder="hash"))
        try:
            _wait(lambda: _docs(app) == 3, proc)
            _write(folder / "added-later.md", "# Later\n\nWatched into the index.\n")
            (folder / "parking.md").unlink()
            _wait(lambda: _docs(app) == 3 and "added-later.md" in _names(app), proc)
        finally:
            app.close()
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert "watching" in out and "stopped watching" in out


def test_cli_sync_watch_stops_cleanly_on_sigterm(folder: Path, tmp_path: Path) -> None:
    # What systemd and `docker stop` send: the same stop as Ctrl-C, and the index is whole.
    home = tmp_path / "home"
    proc = _start_watch(folder, home)
    app = App(Settings(home=home, embedder="hash"))
    try:
        _wait(lambda: _docs(app) == 3, proc)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        assert "stopped watching" in out
        assert _docs(app) == 3
    finally:
        app.close()


def _start_watch(folder: Path, home: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "ZHIKU_EMBEDDER": "hash", "ZHIKU_HOME": str(home)}
    zhiku = str(Path(sys.executable).parent / "zhiku")
    cmd = [zhiku, "sync", "--kb", "k", "--create", str(folder), "--watch", "--interval", "0.3"]
    # Ctrl-C as a terminal delivers it: a suite started in the background by a non-interactive shell
    # (`make test &`) ignores SIGINT, the child would inherit that, and Python then never raises
    # KeyboardInterrupt.
    return subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _docs(app: App) -> int:
    try:
        return len(app.list_documents("k"))
    except ZhikuError:
        return -1


def _names(app: App) -> set[str]:
    return {Path(d.path).name for d in app.list_documents("k")}


def _wait(condition, proc: subprocess.Popen, timeout: float = 60.0) -> None:  # type: ignore[type-arg,no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


def test_cli_sync_watch_stops_cleanly_on_sigterm_during_its_first_sync(folder: Path, tmp_path: Path) -> None:
    # `docker stop` right after start: the first sync is still running; it was killed outright (-15).
    home = tmp_path / "home"
    proc = _start_watch(folder, home)
    app = App(Settings(home=home, embedder="hash"))
    try:
        _wait(lambda: _docs(app) >= 0, proc)  # the knowledge base exists: the first sync has begun
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        assert "stopped watching" in out
    finally:
        app.close()


def test_a_link_to_a_file_outside_the_folder_goes_when_the_link_goes(app: App, folder: Path, tmp_path: Path) -> None:
    # Indexed under its target's path, it was never seen removed: the knowledge base kept it for good.
    outside = _write(tmp_path / "elsewhere" / "outside.md", "# Outside\n\nLinked into the folder.\n")
    (folder / "link.md").symlink_to(outside)
    app.ensure_kb("k")
    first = app.sync("k", folder)
    assert _results(first)["link.md"] == "added"
    assert str(folder.resolve() / "link.md") in {d.path for d in app.list_documents("k")}
    assert app.sync("k", folder).summary.startswith("nothing to do")
    (folder / "link.md").unlink()
    gone = app.sync("k", folder)
    assert "1 removed" in gone.summary
    assert sorted(Path(d.path).name for d in app.list_documents("k")) == ["leave.md", "parking.md", "remote.md"]
    assert outside.exists()  # the target is the user's file: never touched
