"""Rerankers: the ONNX cross-encoder path on a real (tiny) model, the HTTP path, and their use in
search, refusal, evaluation, the CLI and the REST API."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rerank_model import build_cross_encoder

from zhiku import App, Settings
from zhiku.cli import main
from zhiku.errors import ConfigError, ZhikuError
from zhiku.eval.retrieval import evaluate_retrieval, parse_mode
from zhiku.rerank import RerankerRegistry
from zhiku.rerank.onnx import ONNXReranker
from zhiku.rerank.remote import HTTPReranker
from zhiku.retrieve import describe_hits

DOCS = {
    "leave.md": "# Annual leave\n\nNew hires get 10 days of annual leave each year. Leave requests go to HR.\n",
    "expenses.md": "# Expenses\n\nTravel expenses are reimbursed within thirty days once a manager approves them.\n",
    "security.md": "# Security\n\nLaptops lock after five minutes. Report lost badges to the front desk.\n",
}
VOCAB = "new hires get ten days of annual leave each year requests go to hr travel expenses".split()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cross-encoder that finds 'reimbursed' passages relevant and nothing else."""
    return build_cross_encoder(tmp_path_factory.mktemp("reranker"), {"reimbursed": 6.0}, VOCAB, bias=-2.0)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _app(tmp_path: Path, corpus: Path, **settings: Any) -> App:
    app = App(Settings(home=tmp_path / "home", embedder="hash", **settings))
    app.ensure_kb("kb")
    assert app.add("kb", [corpus]).ok
    return app


def test_onnx_reranker_scores_pairs_in_batches(model_dir: Path) -> None:
    reranker = ONNXReranker(model_dir, batch=2)
    texts = ["Expenses are reimbursed monthly.", "Ten days of annual leave.", "x " * 40 + "reimbursed", "hr"]
    scores = reranker.score("when are expenses paid", texts)
    assert len(scores) == 4 and all(0.0 < s < 1.0 for s in scores)
    assert scores[0] > 0.98 and scores[1] < 0.2  # sigmoid(6 - 2) and sigmoid(-2)
    assert scores[2] == pytest.approx(scores[0], abs=1e-6)  # padding and length change nothing
    alone = [reranker.score("when are expenses paid", [t])[0] for t in texts]
    assert alone == pytest.approx(scores, abs=1e-6)
    assert reranker.score("q", []) == []
    assert reranker.name == f"onnx:{model_dir.name}"


def test_onnx_reranker_truncates_long_pairs(model_dir: Path) -> None:
    reranker = ONNXReranker(model_dir, max_length=16)
    scores = reranker.score("question", ["leave " * 50 + "reimbursed", "reimbursed " + "leave " * 50])
    assert scores[0] < 0.2 < 0.9 < scores[1]  # the first passage's relevant word was cut off


def test_onnx_reranker_finds_the_model_file_or_says_what_is_missing(model_dir: Path, tmp_path: Path) -> None:
    assert ONNXReranker(model_dir / "model.onnx").score("q", ["reimbursed"])[0] > 0.9
    with pytest.raises(ConfigError, match="does not exist"):
        ONNXReranker(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match=r"model\.onnx"):
        ONNXReranker(empty)
    (empty / "model.onnx").write_bytes((model_dir / "model.onnx").read_bytes())
    with pytest.raises(ConfigError, match=r"tokenizer\.json"):
        ONNXReranker(empty)
    (empty / "tokenizer.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"cannot read .*tokenizer\.json"):
        ONNXReranker(empty)
    (empty / "tokenizer.json").write_bytes((model_dir / "tokenizer.json").read_bytes())
    (empty / "model.onnx").write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="cannot load the ONNX reranker"):
        ONNXReranker(empty)


def test_registry_builds_rerankers_and_rejects_bad_specs(model_dir: Path, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    registry = RerankerRegistry()
    assert isinstance(registry.create(f"onnx:{model_dir}", settings), ONNXReranker)
    with pytest.raises(ConfigError, match="ZHIKU_RERANK_BASE_URL"):
        registry.create("http:bge-reranker", settings)
    with pytest.raises(ConfigError, match="unknown reranker kind"):
        registry.create("cohere:rerank-3", settings)
    with pytest.raises(ConfigError, match="<kind>:<argument>"):
        registry.create("onnx", settings)


def test_search_is_reordered_by_the_reranker(tmp_path: Path, corpus: Path, model_dir: Path) -> None:
    app = _app(tmp_path, corpus, reranker=f"onnx:{model_dir}")
    try:
        question = "how many days of annual leave"
        plain = app.search("kb", question, rerank=False).hits
        assert plain[0].path.endswith("leave.md") and "rerank" not in plain[0].scores
        result = app.search("kb", question)
        hits = result.hits
        assert hits[0].path.endswith("expenses.md")  # the reranker's pick, not the retrieval lists'
        assert [h.ranks["rerank"] for h in hits] == list(range(1, len(hits) + 1))
        assert hits[0].scores["rerank"] > 0.9 > hits[1].scores["rerank"]
        assert hits[0].score == next(h.score for h in plain if h.path.endswith("expenses.md"))
        assert "rerank: rank 1" in describe_hits(hits)[0]
        assert not result.notes
    finally:
        app.close()


def test_rerank_threshold_refuses_when_no_source_is_relevant(tmp_path: Path, corpus: Path, model_dir: Path) -> None:
    question = "How many days of annual leave do new hires get?"
    parking = build_cross_encoder(tmp_path / "parking", {"parking": 6.0}, VOCAB, bias=-2.0)
    leave = build_cross_encoder(tmp_path / "leave", {"leave": 3.0}, VOCAB, bias=-2.0)
    plain = _app(tmp_path / "a", corpus)
    unconvinced = _app(tmp_path / "b", corpus, reranker=f"onnx:{parking}", rerank_threshold=0.5)
    convinced = _app(tmp_path / "c", corpus, reranker=f"onnx:{leave}", rerank_threshold=0.5)
    try:
        answered = plain.ask("kb", question)
        assert not answered.refused and "10 days" in answered.text
        refused = unconvinced.ask("kb", question)  # no passage is about parking: no score reaches 0.5
        assert refused.refused and refused.text.startswith("The knowledge base does not contain")
        assert refused.evidence == pytest.approx(answered.evidence, abs=0.2)  # the evidence alone would answer
        again = convinced.ask("kb", question)
        assert not again.refused and "10 days" in again.text
    finally:
        for app in (plain, unconvinced, convinced):
            app.close()


def test_search_insists_on_a_configured_reranker_when_asked(app: App) -> None:
    app.ensure_kb("kb")
    with pytest.raises(ConfigError, match="ZHIKU_RERANKER"):
        app.search("kb", "anything", rerank=True)
    assert app.search("kb", "anything").hits == []  # default: no reranker, no error


class _RerankServer:
    """A stand-in for a rerank server (llama-server --reranking, TEI, vLLM): no reranker model can run
    here, so it scores by word overlap, answers in the Cohere/Jina format (best first, as servers do)
    or TEI's bare list, and records what it was sent."""

    def __init__(self, style: str = "cohere", fail: bool = False) -> None:
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
                if fail:
                    self.send_response(503)
                    self.end_headers()
                    return
                query = set(body["query"].lower().split())
                scores = [len(query & set(d.lower().split())) / 10 for d in body["documents"]]
                order = sorted(range(len(scores)), key=lambda i: -scores[i])
                if style == "cohere":
                    payload: Any = {"results": [{"index": i, "relevance_score": scores[i]} for i in order]}
                else:
                    payload = [{"index": i, "score": scores[i]} for i in order]
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def rerank_server() -> Iterator[_RerankServer]:
    server = _RerankServer()
    yield server
    server.close()


@pytest.mark.parametrize("style", ["cohere", "tei"])
def test_http_reranker_maps_scores_back_to_input_order(style: str) -> None:
    server = _RerankServer(style)
    try:
        reranker = HTTPReranker(server.url, "bge-reranker-v2-m3", api_key="k")
        scores = reranker.score("annual leave days", ["lost badges", "annual leave", "ten days of annual leave"])
        assert scores == pytest.approx([0.0, 0.2, 0.3])
        sent = server.requests[0]
        assert sent["path"] == "/v1/rerank" and sent["auth"] == "Bearer k"
        assert sent["model"] == "bge-reranker-v2-m3" and sent["top_n"] == 3 and len(sent["documents"]) == 3
        assert reranker.score("q", []) == [] and len(server.requests) == 1
        reranker.close()
    finally:
        server.close()


def test_http_reranker_failure_keeps_the_retrieval_order(tmp_path: Path, corpus: Path) -> None:
    server = _RerankServer(fail=True)
    app = _app(tmp_path, corpus, reranker="http:m", rerank_base_url=server.url)
    try:
        with pytest.raises(ZhikuError, match="rerank endpoint"):
            app.reranker.score("q", ["a"])  # type: ignore[union-attr]
        plain = app.search("kb", "annual leave", rerank=False).hits
        result = app.search("kb", "annual leave")
        assert [h.chunk_id for h in result.hits] == [h.chunk_id for h in plain]
        assert any("reranker http:m failed, retrieval order kept" in n for n in result.notes)
    finally:
        app.close()
        server.close()


def test_http_reranker_in_search(tmp_path: Path, corpus: Path, rerank_server: _RerankServer) -> None:
    app = _app(tmp_path, corpus, reranker="http:m", rerank_base_url=rerank_server.url, rerank_candidates=2)
    try:
        hits = app.search("kb", "travel expenses reimbursed thirty days").hits
        assert hits[0].path.endswith("expenses.md") and hits[0].ranks["rerank"] == 1
        assert len(rerank_server.requests[0]["documents"]) == 2  # only the top rerank_candidates
        assert all("rerank" not in h.scores for h in hits[2:])
        first = rerank_server.requests[0]["documents"][0]
        assert first.startswith("Expenses\n") and first.endswith("once a manager approves them.")  # heading path first
    finally:
        app.close()


def test_mode_specs_with_reranking(tmp_path: Path, model_dir: Path) -> None:
    settings = Settings(home=tmp_path, reranker=f"onnx:{model_dir}")
    spec = parse_mode("hybrid@0.4+fb3+rr30", settings)
    assert (spec.mode, spec.dense_weight, spec.feedback, spec.rerank) == ("hybrid", 0.4, 3, 30)
    assert parse_mode("bm25+rr10", settings).rerank == 10
    assert parse_mode("hybrid", settings).rerank == 0
    with pytest.raises(ZhikuError, match="fb5 or reranking like rr30"):
        parse_mode("hybrid+xx5", settings)
    with pytest.raises(ZhikuError, match="only hybrid takes feedback"):
        parse_mode("bm25+fb5", settings)
    with pytest.raises(ZhikuError, match="no reranker is configured"):
        parse_mode("bm25+rr10", Settings(home=tmp_path))


def test_eval_retrieval_measures_with_and_without_reranking(tmp_path: Path, model_dir: Path) -> None:
    folder = tmp_path / "beir"
    (folder / "qrels").mkdir(parents=True)
    docs = {
        "d1": "Annual leave: ten days for new hires.",
        "d2": "Expenses are reimbursed within thirty days.",
        "d3": "Badges are reissued by the front desk.",
    }
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as f:
        for i, text in docs.items():
            f.write(json.dumps({"_id": i, "title": "", "text": text}) + "\n")
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "days for expenses"}) + "\n")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td2\t1\n")
    settings = Settings(home=tmp_path / "home", embedder="hash", reranker=f"onnx:{model_dir}")
    report = evaluate_retrieval(settings, folder, "test", ["bm25", "bm25+rr10"])
    assert report["modes"]["bm25+rr10"]["ndcg@10"] == 1.0
    assert report["modes"]["bm25+rr10"]["rerank"] == 10 and "rerank" not in report["modes"]["bm25"]
    assert report["settings"]["reranker"] == f"onnx:{model_dir}"


def test_cli_search_rerank_flag(tmp_path: Path, corpus: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHIKU_EMBEDDER", "hash")
    monkeypatch.delenv("ZHIKU_RERANKER", raising=False)
    home = str(tmp_path / "home")
    runner = CliRunner()
    assert runner.invoke(main, ["--home", home, "kb", "create", "kb"]).exit_code == 0
    assert runner.invoke(main, ["--home", home, "add", "--kb", "kb", str(corpus)]).exit_code == 0
    insisted = runner.invoke(main, ["--home", home, "search", "--kb", "kb", "leave", "--rerank"])
    assert insisted.exit_code != 0 and "ZHIKU_RERANKER" in insisted.output
    monkeypatch.setenv("ZHIKU_RERANKER", f"onnx:{model_dir}")
    shown = runner.invoke(main, ["--home", home, "search", "--kb", "kb", "annual leave", "--explain"])
    assert shown.exit_code == 0 and "rerank: rank 1" in shown.output
    first = shown.output.split("[2]")[0]
    assert "expenses.md" in first
    skipped = runner.invoke(main, ["--home", home, "search", "--kb", "kb", "annual leave", "--explain", "--no-rerank"])
    assert skipped.exit_code == 0 and "rerank:" not in skipped.output


def test_eval_rejection_sweeps_the_rerank_threshold(tmp_path: Path) -> None:
    from test_eval import write_rgb

    from zhiku.eval.rejection import evaluate_rejection

    file = write_rgb(tmp_path / "rgb.jsonl")
    model = build_cross_encoder(tmp_path / "model", {"forty": 5.0, "spaces": 1.0}, ["car", "park"], bias=-2.0)
    base = Settings(home=tmp_path / "home", embedder="hash")
    plain = evaluate_rejection(base, file, sweep=True)
    assert "rerank_sweep" not in plain
    reranked = evaluate_rejection(base.with_overrides(reranker=f"onnx:{model}"), file, sweep=True)
    rows = reranked["rerank_sweep"]
    assert rows[0]["refusal_rate"] == plain["refusal_rate"]  # at the lowest score only the evidence refuses
    assert rows[0]["false_refusal_rate"] == plain["false_refusal_rate"]
    assert [r["rerank_threshold"] for r in rows] == sorted(r["rerank_threshold"] for r in rows)
    assert all(a["refusal_rate"] <= b["refusal_rate"] for a, b in pairwise(rows))
    assert rows[-1]["false_refusal_rate"] > rows[0]["false_refusal_rate"]  # a high cut refuses answerable ones
    strict = evaluate_rejection(base.with_overrides(reranker=f"onnx:{model}", rerank_threshold=0.5), file)
    assert strict["false_refusal_rate"] > plain["false_refusal_rate"]  # only the car park passage convinces it
