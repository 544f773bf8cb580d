"""Jobs over HTTP against a real uvicorn server with the background runner: queued uploads, the SSE
progress stream, retries, kept upload files and folder sync."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_fixtures import KB, RunningServer, build_app, running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    app = build_app(tmp_path_factory.mktemp("zhiku-home"))
    app.start_background()  # what the server's lifespan does under `zhiku serve`
    with running_server(app) as running:
        yield running
    app.close()


@pytest.fixture()
def client(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=120) as c:
        yield c


def events(client: httpx.Client, url: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    with client.stream("GET", url) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        name = "message"
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                out.append((name, json.loads(line[len("data: ") :])))
    return out


def test_queued_upload_streams_progress_until_done(client: httpx.Client) -> None:
    files = [
        ("files", ("canteen.md", b"# Canteen\n\nThe canteen on floor 3 opens at 11:30.\n", "text/markdown")),
        ("files", ("gym.md", b"# Gym\n\nThe gym card costs 50 yuan a month.\n", "text/markdown")),
    ]
    r = client.post(f"/api/kbs/{KB}/documents", params={"wait": "false"}, files=files)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["batch"] and {f["status"] for f in body["files"]} <= {"queued", "running", "added"}
    job_ids = {f["job_id"] for f in body["files"]}

    stream = events(client, f"/api/jobs/events?batch={body['batch']}")
    assert stream[-1][0] == "done" and stream[-1][1]["pending_vectors"] == 0
    assert stream[-1][1]["done"] == 2 and stream[-1][1]["queued"] == stream[-1][1]["running"] == 0
    seen = {data["id"]: data for name, data in stream if name == "job"}
    assert set(seen) == job_ids and all(j["status"] == "done" and j["result"] == "added" for j in seen.values())
    assert any(name == "progress" for name, _ in stream)

    job = client.get(f"/api/jobs/{next(iter(job_ids))}").json()
    assert job["status"] == "done" and job["kind"] == "add" and job["key"].startswith("upload/")
    hits = client.post(f"/api/kbs/{KB}/search", json={"query": "gym card price"}).json()
    assert "50 yuan" in hits["hits"][0]["text"] and hits["pending_vectors"] == 0


def test_failed_job_is_listed_and_retried(client: httpx.Client) -> None:
    r = client.post(f"/api/kbs/{KB}/documents", files=[("files", ("empty.md", b"", "text/markdown"))])
    failed = r.json()["files"][0]
    assert failed["status"] == "failed" and "empty" in failed["reason"]
    listed = client.get("/api/jobs", params={"status": "failed", "kb": KB}).json()
    assert failed["job_id"] in [j["id"] for j in listed]
    retried = client.post(f"/api/jobs/{failed['job_id']}/retry")
    assert retried.status_code == 200 and retried.json()["status"] in ("queued", "running", "failed")
    if retried.json()["status"] != "failed":  # not the last attempt's result while it runs again
        assert retried.json()["result"] == "" and retried.json()["reason"] == ""
    stream = events(client, f"/api/jobs/{failed['job_id']}/events")
    assert stream[-1][0] == "done" and stream[-1][1]["status"] == "failed" and stream[-1][1]["attempts"] == 2
    done = next(j for j in client.get("/api/jobs", params={"status": "done"}).json())
    assert client.post(f"/api/jobs/{done['id']}/retry").status_code == 400
    assert client.get("/api/jobs/999999").status_code == 404
    assert client.post("/api/jobs/retry", params={"kb": KB}).json()["retried"] == [failed["job_id"]]


def test_uploads_are_kept_until_their_document_is_deleted(client: httpx.Client, server: RunningServer) -> None:
    r = client.post(f"/api/kbs/{KB}/documents", files=[("files", ("kept.md", b"# Kept\n\nA kept file.\n", "text/md"))])
    entry = r.json()["files"][0]
    assert entry["status"] == "added"
    kb_id = server.app.store.kb_id(KB)
    kept = list((server.app.settings.home / "uploads" / str(kb_id)).rglob("kept.md"))
    assert len(kept) == 1
    assert client.delete(f"/api/kbs/{KB}/documents/{entry['doc_id']}").status_code == 204
    assert not kept[0].exists() and not kept[0].parent.exists()


def test_sync_endpoint(client: httpx.Client, tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    (folder / "a.md").write_text("# A\n\nAlpha policy text.\n", encoding="utf-8")
    (folder / "b.md").write_text("# B\n\nBeta policy text.\n", encoding="utf-8")
    assert client.post("/api/kbs", json={"name": "synced"}).status_code == 201
    dry = client.post("/api/kbs/synced/sync", json={"folder": str(folder), "dry_run": True}).json()
    assert dry["dry_run"] and len(dry["plan"]["new"]) == 2 and dry["jobs"] == []
    first = client.post("/api/kbs/synced/sync", json={"folder": str(folder)}).json()
    assert first["summary"].startswith("2 new") and {j["result"] for j in first["jobs"]} == {"added"}
    again = client.post("/api/kbs/synced/sync", json={"folder": str(folder)}).json()
    assert again["summary"].startswith("nothing to do") and again["jobs"] == []
    (folder / "b.md").unlink()
    queued = client.post("/api/kbs/synced/sync", json={"folder": str(folder), "wait": False})
    assert queued.status_code == 202
    batch = queued.json()["jobs"][0]["batch"]
    stream = events(client, f"/api/jobs/events?batch={batch}")
    assert stream[-1][0] == "done"
    assert [d["path"] for d in client.get("/api/kbs/synced/documents").json()] == [str((folder / "a.md").resolve())]
    missing = client.post("/api/kbs/synced/sync", json={"folder": str(folder / "nope")})
    assert missing.status_code == 400 and "not a folder" in missing.json()["error"]["message"]


def test_a_runner_stopped_by_a_full_disk_does_not_hang_the_upload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The upload hung with its job "running" for as long as the disk stayed full (the runner failed,
    # the job stayed claimed by the live server process), and SIGTERM then waited on it. A full disk
    # cannot be made on cue here: the store's write raises what SQLite raises then.
    import sqlite3

    app = build_app(tmp_path / "home")
    real_write = app.store.write_documents
    full = {"on": True}

    def write_documents(*args: Any, **kwargs: Any) -> Any:
        if full["on"]:
            raise sqlite3.OperationalError("database or disk is full")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(app.store, "write_documents", write_documents)
    app.start_background()
    try:
        with running_server(app) as server, httpx.Client(base_url=server.url, timeout=60) as c:
            files = [("files", ("full.md", b"# Full\n\nWritten once the disk has room again.\n"))]
            r = c.post(f"/api/kbs/{KB}/documents", files=files)
            assert r.status_code == 503, r.text
            message = r.json()["error"]["message"]
            assert "indexing stopped" in message and "is full" in message and "stay queued" in message
            full["on"] = False  # space freed: the job runs again by itself
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                jobs = c.get("/api/jobs", params={"kb": KB}).json()
                job = next(j for j in jobs if j["key"] == "upload/full.md")
                if job["status"] == "done":
                    break
                time.sleep(0.3)
            assert job["status"] == "done" and job["result"] == "added", job
    finally:
        app.close()


def test_open_progress_streams_do_not_hold_the_server(server: RunningServer) -> None:
    # Dashboards keep /api/jobs/events open. As a plain generator each stream held one of the server's
    # 40 worker threads while it waited, and at 40 streams /api/health took 15 s.
    import threading

    stop = threading.Event()
    opened = threading.Semaphore(0)

    def watch() -> None:
        with httpx.Client(base_url=server.url, timeout=60) as c, c.stream("GET", "/api/jobs/events") as response:
            opened.release()
            for _ in response.iter_lines():
                if stop.is_set():
                    return

    threads = [threading.Thread(target=watch, daemon=True) for _ in range(48)]
    for t in threads:
        t.start()
    try:
        for _ in threads:
            assert opened.acquire(timeout=30)
        with httpx.Client(base_url=server.url, timeout=30) as c:
            started = time.monotonic()
            for _ in range(3):
                assert c.get("/api/health").status_code == 200
            assert time.monotonic() - started < 5.0  # three requests; 15 s each when the threads were held
    finally:
        stop.set()


def test_an_unknown_batch_is_not_reported_done(client: httpx.Client) -> None:
    # A mistyped or pruned batch ended at once with "done" and zero counts, like a finished one.
    r = client.get("/api/jobs/events", params={"batch": "no-such-batch"})
    assert r.status_code == 404 and "no-such-batch" in r.json()["error"]["message"]
