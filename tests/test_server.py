"""The REST API under /api, against a real uvicorn server over the demo corpus (hash embedder)."""

from __future__ import annotations

import errno
import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_fixtures import KB, RunningServer, build_app, running_server

from zhiku.demo import EXAMPLE_QUESTIONS


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    app = build_app(tmp_path_factory.mktemp("zhiku-home"))
    with running_server(app) as running:
        yield running
    app.close()


@pytest.fixture()
def client(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


def sse_events(response: httpx.Response) -> list[tuple[str, Any]]:
    """(event, data) pairs of a text/event-stream response."""
    events: list[tuple[str, Any]] = []
    name = "message"
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            events.append((name, json.loads(line[len("data: ") :])))
            name = "message"
    return events


def test_health(client: httpx.Client) -> None:
    body = client.get("/api/health").json()
    assert body["status"] == "ok"
    assert body["embedder"] == "hash"
    assert body["llm"] is False


def test_kb_lifecycle(client: httpx.Client) -> None:
    r = client.post("/api/kbs", json={"name": "scratch", "description": "temporary"})
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "scratch"

    dup = client.post("/api/kbs", json={"name": "scratch"})
    assert dup.status_code == 409
    assert dup.json()["error"]["type"] == "already_exists"
    assert "scratch" in dup.json()["error"]["message"]

    names = [kb["name"] for kb in client.get("/api/kbs").json()]
    assert {"scratch", KB} <= set(names)
    assert client.get("/api/kbs/scratch").json()["description"] == "temporary"

    assert client.delete("/api/kbs/scratch").status_code == 204
    missing = client.get("/api/kbs/scratch")
    assert missing.status_code == 404
    error = missing.json()["error"]
    assert error["type"] == "not_found"
    assert "POST /api/kbs" in error["message"]


def test_list_documents(client: httpx.Client) -> None:
    docs = client.get(f"/api/kbs/{KB}/documents").json()
    assert len(docs) >= 2
    assert all(d["chunks"] > 0 for d in docs)
    kb = client.get(f"/api/kbs/{KB}").json()
    assert kb["documents"] == len(docs)


@pytest.mark.parametrize("mode", ["hybrid", "bm25", "dense"])
def test_search_has_explain_data(client: httpx.Client, mode: str) -> None:
    r = client.post(f"/api/kbs/{KB}/search", json={"query": "annual leave for new hires", "mode": mode, "top_k": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["mode"] == mode
    assert 0 < len(body["hits"]) <= 3
    hit = body["hits"][0]
    assert hit["text"] and hit["path"] and "locator" in hit
    assert isinstance(hit["ranks"], dict) and isinstance(hit["scores"], dict)
    assert isinstance(body["notes"], list)
    if mode == "hybrid":
        assert set(hit["ranks"]) & {"bm25", "dense"}


def test_search_hits_carry_a_snippet_for_the_query(client: httpx.Client) -> None:
    # The demo's leave table: the snippet shows its head and the row the query names, not every row.
    body = client.post(f"/api/kbs/{KB}/search", json={"query": "sick leave days", "mode": "bm25"}).json()
    table = next(h for h in body["hits"] if "| Sick leave |" in h["text"])
    assert "| Sick leave | 12 |" in table["snippet"] and "| Volunteer day |" not in table["snippet"]
    assert "---" not in table["snippet"]


def test_search_path_glob(client: httpx.Client) -> None:
    body = client.post(f"/api/kbs/{KB}/search", json={"query": "年假", "path_glob": "*.md"}).json()
    assert body["hits"]
    assert all(h["path"].endswith(".md") for h in body["hits"])


def test_search_validation_error(client: httpx.Client) -> None:
    r = client.post(f"/api/kbs/{KB}/search", json={"query": "x", "mode": "magic"})
    assert r.status_code == 422
    assert r.json()["error"]["type"] == "invalid_request"
    assert "mode" in r.json()["error"]["message"]


def test_what_an_answer_cites_can_be_fetched_back(client: httpx.Client) -> None:
    # API trial: a citation's doc_id and chunk_id led nowhere (GET .../documents/{id} was a 405, no
    # chunk route existed) and the document list ignored limit/offset.
    answer = client.post(f"/api/kbs/{KB}/ask", json={"question": "How many days of annual leave do new hires get?"})
    cited = answer.json()["citations"][0]
    chunk = client.get(f"/api/kbs/{KB}/chunks/{cited['chunk_id']}").json()
    assert chunk["id"] == cited["chunk_id"] and chunk["doc_id"] == cited["doc_id"] and chunk["path"] == cited["path"]
    assert cited["snippet"].rstrip("…").split()[0] in chunk["text"] and "10 days" in chunk["text"]
    doc = client.get(f"/api/kbs/{KB}/documents/{cited['doc_id']}").json()
    assert doc["id"] == cited["doc_id"] and doc["path"] == cited["path"]
    chunks = client.get(f"/api/kbs/{KB}/documents/{cited['doc_id']}/chunks").json()
    assert len(chunks) == doc["chunks"] and cited["chunk_id"] in [c["id"] for c in chunks]
    assert all(c["doc_id"] == doc["id"] for c in chunks)
    # another knowledge base's ids are not found through this one
    assert client.post("/api/kbs", json={"name": "elsewhere"}).status_code == 201
    assert client.get(f"/api/kbs/elsewhere/chunks/{cited['chunk_id']}").status_code == 404
    assert client.get(f"/api/kbs/elsewhere/documents/{cited['doc_id']}").status_code == 404
    assert client.delete("/api/kbs/elsewhere").status_code == 204
    assert client.get(f"/api/kbs/{KB}/chunks/99999999999999999999").status_code == 404
    everything = client.get(f"/api/kbs/{KB}/documents").json()
    page = client.get(f"/api/kbs/{KB}/documents", params={"limit": 2, "offset": 1}).json()
    assert [d["id"] for d in page] == [d["id"] for d in everything[1:3]]


def test_unknown_routes_and_methods_have_documented_errors(client: httpx.Client) -> None:
    # API trial: type "http_error" (not in the documented table), "Method Not Allowed" saying nothing
    # of what to do, no code on /v1, and HEAD /api/health (load balancers) a 405.
    assert client.head("/api/health").status_code == 200
    missing = client.get("/api/no-such-route").json()["error"]
    assert missing["type"] == "not_found" and "no route GET /api/no-such-route" in missing["message"]
    assert client.post("/v1/embeddings", json={}).json()["error"]["code"] == "not_found"
    wrong = client.put(f"/api/kbs/{KB}")
    assert wrong.status_code == 405 and wrong.json()["error"]["type"] == "invalid_request"
    assert "PUT is not allowed" in wrong.json()["error"]["message"] and "GET" in wrong.json()["error"]["message"]


def test_empty_text_and_long_names_are_400s_as_documented(client: httpx.Client) -> None:
    # API trial: "" was a schema 422 while " " was zhiku's 400; a 201-character name likewise.
    for url, body in (
        (f"/api/kbs/{KB}/search", {"query": ""}),
        (f"/api/kbs/{KB}/search", {"query": " "}),
        (f"/api/kbs/{KB}/ask", {"question": ""}),
        ("/api/kbs", {"name": "a" * 201}),
        ("/api/kbs", {"name": ""}),
    ):
        r = client.post(url, json=body)
        assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request", (url, body, r.text)
    r = client.post("/api/kbs", json={"name": "zero\u200bwidth"})
    assert r.status_code == 400 and "invisible formatting character (U+200B)" in r.json()["error"]["message"]


def test_overlong_question_is_a_400_that_says_the_limit(client: httpx.Client) -> None:
    for path, body in (("ask", {"question": "年假" * 3000}), ("search", {"query": "leave " * 1000})):
        r = client.post(f"/api/kbs/{KB}/{path}", json=body)
        assert r.status_code == 400, r.text
        assert "the limit is 4,000 (ZHIKU_MAX_QUERY_CHARS)" in r.json()["error"]["message"]
    blank = client.post(f"/api/kbs/{KB}/ask", json={"question": "  \n"})
    assert blank.status_code == 400 and "the question is empty" in blank.json()["error"]["message"]


def test_search_rerank_needs_a_configured_reranker(client: httpx.Client) -> None:
    r = client.post(f"/api/kbs/{KB}/search", json={"query": "年假", "rerank": True})
    assert r.status_code == 400 and "ZHIKU_RERANKER" in r.json()["error"]["message"]
    assert client.post(f"/api/kbs/{KB}/search", json={"query": "年假", "rerank": False}).json()["hits"]


@pytest.mark.parametrize(("question", "expected"), EXAMPLE_QUESTIONS[:2] + EXAMPLE_QUESTIONS[6:7])
def test_ask(client: httpx.Client, question: str, expected: str) -> None:
    r = client.post(f"/api/kbs/{KB}/ask", json={"question": question})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["refused"] is False
    assert answer["citations"]
    assert "[1]" in answer["answer"]
    sources = answer["answer"] + " ".join(c["snippet"] for c in answer["citations"])
    assert expected in sources


def test_ask_refuses_off_topic(client: httpx.Client) -> None:
    answer = client.post(f"/api/kbs/{KB}/ask", json={"question": "What is the capital of France?"}).json()
    assert answer["refused"] is True
    assert answer["citations"] == []
    assert "knowledge base" in answer["answer"]
    assert 1 <= len(answer["related"]) <= 3 and answer["related"][0]["where"]  # where zhiku looked


def test_ask_with_history(client: httpx.Client) -> None:
    history = [
        {"role": "user", "content": "How many days of annual leave do new hires get?"},
        {"role": "assistant", "content": "New hires get 10 days [1]."},
    ]
    r = client.post(f"/api/kbs/{KB}/ask", json={"question": "And after two years?", "history": history})
    assert r.status_code == 200, r.text
    assert r.json()["question"] == "And after two years?"


def test_ask_stream(client: httpx.Client) -> None:
    question = EXAMPLE_QUESTIONS[0][0]
    with client.stream("POST", f"/api/kbs/{KB}/ask", json={"question": question, "stream": True}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = sse_events(r)
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "answer"
    assert kinds.count("delta") >= 1 and set(kinds[:-1]) == {"delta"}
    answer = events[-1][1]
    assert "".join(data["text"] for kind, data in events if kind == "delta") == answer["answer"]
    assert answer["citations"]


def test_ask_unknown_kb(client: httpx.Client) -> None:
    for stream in (False, True):
        r = client.post("/api/kbs/nope/ask", json={"question": "hello?", "stream": stream})
        assert r.status_code == 404
        assert r.json()["error"]["type"] == "not_found"


def test_the_bare_url_leads_to_the_api_docs(client: httpx.Client) -> None:
    # ``zhiku serve`` prints the bare URL; a browser opening it must not land on an error.
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 307
    assert r.headers["location"] == "/docs"
    page = client.get("/", follow_redirects=True)
    assert page.status_code == 200
    assert "swagger" in page.text.lower()
    assert "/" not in client.get("/openapi.json").json()["paths"]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_api_docs_pages_work_offline(client: httpx.Client, page: str) -> None:
    # Every script and style sheet the page loads comes from this server, none from a CDN.
    html = client.get(page).text
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    scripts = [a for a in assets if a.endswith((".js", ".css"))]
    assert scripts, html
    for asset in scripts:
        assert asset.startswith("/"), f"{page} loads {asset} from another host"
        r = client.get(asset)
        assert r.status_code == 200 and len(r.content) > 10_000, asset


def test_unknown_route(client: httpx.Client) -> None:
    r = client.get("/api/nothing-here")
    assert r.status_code == 404
    assert "error" in r.json()


def test_upload_good_and_corrupt_then_delete(client: httpx.Client, tmp_path: Path) -> None:
    assert client.post("/api/kbs", json={"name": "uploads"}).status_code == 201
    good = "# Parking\n\nThe visitor parking code at the Hangzhou office is ZEBRA-7731.\n"
    files = [
        ("files", ("parking.md", good.encode(), "text/markdown")),
        ("files", ("broken.pdf", b"%PDF-1.4\nthis is not really a pdf\n%%EOF", "application/pdf")),
    ]
    r = client.post("/api/kbs/uploads/documents", files=files)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is False
    by_path = {f["path"]: f for f in body["files"]}
    assert by_path["upload/parking.md"]["status"] == "added"
    assert by_path["upload/parking.md"]["chunks"] >= 1
    failed = by_path["upload/broken.pdf"]
    assert failed["status"] == "failed"
    assert failed["reason"]

    # the server is still up and the good file is searchable
    assert client.get("/api/health").status_code == 200
    hits = client.post("/api/kbs/uploads/search", json={"query": "visitor parking code", "mode": "bm25"}).json()["hits"]
    assert hits and "ZEBRA-7731" in hits[0]["text"]

    # same bytes again: unchanged
    again = client.post("/api/kbs/uploads/documents", files=[files[0]]).json()
    assert again["ok"] is True and again["files"][0]["status"] == "unchanged"

    docs = client.get("/api/kbs/uploads/documents").json()
    doc_id = next(d["id"] for d in docs if d["path"] == "upload/parking.md")
    assert client.delete(f"/api/kbs/uploads/documents/{doc_id}").status_code == 204
    hits = client.post("/api/kbs/uploads/search", json={"query": "visitor parking code"}).json()["hits"]
    assert not any("ZEBRA-7731" in h["text"] for h in hits)
    assert client.delete(f"/api/kbs/uploads/documents/{doc_id}").status_code == 404
    missing = client.delete(f"/api/kbs/{KB}/documents/999999")
    assert missing.status_code == 404 and "POST /api/kbs creates" not in missing.json()["error"]["message"]


def test_upload_to_unknown_kb(client: httpx.Client) -> None:
    r = client.post("/api/kbs/nope/documents", files=[("files", ("a.md", b"# A\n\ntext\n", "text/markdown"))])
    assert r.status_code == 404


def test_openapi_schema(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["info"]["title"] == "zhiku"
    for path in ("/api/kbs", "/api/kbs/{name}/ask", "/v1/chat/completions", "/v1/models"):
        assert path in schema["paths"]
    ask = schema["paths"]["/api/kbs/{name}/ask"]["post"]
    assert ask["summary"] and ask["description"]
    assert "AskBody" in schema["components"]["schemas"]


def test_upload_reason_hides_temporary_path(client: httpx.Client) -> None:
    r = client.post(
        f"/api/kbs/{KB}/documents", files=[("files", ("notes.docx", b"PK\x03\x04not a zip", "application/msword"))]
    )
    failed = r.json()["files"][0]
    assert failed["status"] == "failed" and "notes.docx" in failed["reason"]
    assert "zhiku-upload-" not in failed["reason"]


def test_two_files_of_one_name_are_both_reported(client: httpx.Client) -> None:
    files = [
        ("files", ("same.md", b"# One\n\nThe first same-named file.\n", "text/markdown")),
        ("files", ("same.md", b"# Two\n\nThe second same-named file.\n", "text/markdown")),
    ]
    body = client.post(f"/api/kbs/{KB}/documents", files=files).json()
    assert [f["status"] for f in body["files"]] == ["added", "failed"]
    assert "same name" in body["files"][1]["reason"] and body["ok"] is False
    assert "1 added, 1 failed" in body["summary"]
    retry = client.post(f"/api/jobs/{body['files'][1]['job_id']}/retry")
    assert retry.status_code == 400 and "upload the file again" in retry.json()["error"]["message"]


@pytest.mark.parametrize("url", ["/api/jobs/99999999999999999999", "/api/jobs/9223372036854775808"])
def test_ids_too_big_for_the_store_are_not_found(client: httpx.Client, url: str) -> None:
    r = client.get(url)
    assert r.status_code == 404 and "no job" in r.json()["error"]["message"]
    r = client.delete(f"/api/kbs/{KB}/documents/{url.rsplit('/', 1)[1]}")
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found"


@pytest.mark.parametrize("name", ["a/b", "   ", "tab\tname"])
def test_kb_names_that_could_not_be_addressed_are_400(client: httpx.Client, name: str) -> None:
    r = client.post("/api/kbs", json={"name": name})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["type"] == "invalid_request" and "knowledge base name" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        (f"/api/kbs/{KB}/ask", {"questoin": "How many days of annual leave?"}, "questoin"),
        (f"/api/kbs/{KB}/ask", {"question": "How many days of annual leave?", "top-k": 3}, "top-k"),
        (f"/api/kbs/{KB}/search", {"query": "annual leave", "path-glob": "*.md"}, "path-glob"),
        ("/api/kbs", {"name": "typo", "descripton": "HR"}, "descripton"),
    ],
)
def test_unknown_fields_are_named_not_ignored(client: httpx.Client, url: str, body: dict, field: str) -> None:
    r = client.post(url, json=body)
    assert r.status_code == 422, r.text
    assert field in r.json()["error"]["message"] and r.json()["error"]["type"] == "invalid_request"


def test_the_documented_422_is_the_error_we_send(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    for path, method in (("/api/kbs/{name}/ask", "post"), ("/v1/chat/completions", "post"), ("/api/jobs", "get")):
        invalid = schema["paths"][path][method]["responses"]["422"]
        assert invalid["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")


def test_a_path_glob_that_matches_nothing_says_so(client: httpx.Client) -> None:
    body = client.post(f"/api/kbs/{KB}/search", json={"query": "annual leave", "path_glob": "*.nothing"}).json()
    assert body["hits"] == [] and any("matches '*.nothing'" in n for n in body["notes"])


def test_an_upload_indexed_with_warnings_says_them(client: httpx.Client) -> None:
    import io

    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["Item", "Cost", "Total"])
    wb.active.append(["Rent", 100, "=B2*12"])
    data = io.BytesIO()
    wb.save(data)
    body = client.post(f"/api/kbs/{KB}/documents", files=[("files", ("budget.xlsx", data.getvalue()))]).json()
    entry = body["files"][0]
    assert body["ok"] is True and entry["status"] == "added"
    assert "formula cell(s) have no saved result" in entry["reason"]


def test_a_store_deleted_under_the_running_server_loses_no_upload(tmp_path: Path) -> None:
    # The file deleted while the server ran: SQLite went on writing into the unlinked inode, the
    # upload was answered "added" and was gone after a restart.
    app = build_app(tmp_path / "home")
    try:
        with running_server(app) as server, httpx.Client(base_url=server.url, timeout=60) as c:
            assert c.get("/api/health").status_code == 200
            app.settings.database_path.unlink()
            up = c.post(f"/api/kbs/{KB}/documents", files=[("files", ("late.md", b"# Late\n\nText.\n"))])
            assert up.status_code == 503, up.text
            assert (
                up.json()["error"]["type"] == "store_unavailable"
                and "deleted or replaced" in up.json()["error"]["message"]
            )
            health = c.get("/api/health")
            assert health.status_code == 503 and "restart zhiku" in health.json()["error"]["message"]
    finally:
        app.close()


@pytest.mark.parametrize(
    ("raised", "status", "kind"),
    [
        (sqlite3.DatabaseError("database disk image is malformed"), 503, "store_unavailable"),
        (OSError(errno.ENOSPC, "No space left on device"), 503, "store_unavailable"),
        (RuntimeError("a bug"), 500, "internal_error"),
    ],
)
def test_unexpected_failures_answer_with_the_error_body(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raised: Exception, status: int, kind: str
) -> None:
    # They were plain-text "Internal Server Error" 500s. A damaged store or a full disk cannot be
    # made to happen on cue under a running server, so the search raises what SQLite would.
    app = build_app(tmp_path / "home")

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise raised

    monkeypatch.setattr(app, "search", fail)
    try:
        with running_server(app) as server, httpx.Client(base_url=server.url, timeout=60) as c:
            r = c.post(f"/api/kbs/{KB}/search", json={"query": "annual leave"})
            assert r.status_code == status and r.json()["error"]["type"] == kind, r.text
            assert c.get("/api/health").status_code == 200  # the server goes on
    finally:
        app.close()
